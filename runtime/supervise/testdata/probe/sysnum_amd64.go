package main

const (
	sysBPF           = 321
	sysPerfEventOpen = 298
	sysIOURingSetup  = 425
)
