module undistro.test/probe

go 1.26
