import _CMPI
// Placeholder until the module lands.
func _probe() -> Int32 { var flag: Int32 = 0; MPI_Initialized(&flag); return flag + Int32(ff_mpi_success()) }
