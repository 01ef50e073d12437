import _CHDF5
// Placeholder until the module lands.
func _probe() -> Int64 { ff_h5t_native_float() }
