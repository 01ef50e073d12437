import Testing

/// The end-to-end tests that launch `flowformer train` under `mpirun`. Serialized (the trait
/// applies to every nested suite): each launch already uses both cores of the machine.
@Suite(.serialized) enum EndToEnd {}
