package main

const (
	sysBPF           = 280
	sysPerfEventOpen = 241
	sysIOURingSetup  = 425
)
