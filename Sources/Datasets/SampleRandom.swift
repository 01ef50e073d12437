import TensorKernels

// Random draws of the data pipeline come from the project's counter-based generator
// (`CounterRandom`, Philox4x32-10): each is a pure function of (seed, stream, index), so it
// depends only on (seed, epoch, sample) — never on the number of ranks or on what was drawn before.
//
// - Epoch order: TensorKernels' `permutation(count:seed:epoch:)`, stream (dataOrder, epoch).
// - Augmentation: stream (augmentationStreamWord, epoch, sample index); 64-bit draws 0 and 1 give
//   the crop offsets, draw 2 the flip.

/// First stream word of augmentation draws: not a `RandomDomain` raw value ("augm" in ASCII), so
/// these streams never coincide with the data-order, dropout or initialisation streams.
let augmentationStreamWord: UInt64 = 0x6175_676D

/// The generator of one sample's augmentation in one epoch.
func augmentationRandom(seed: UInt64, epoch: Int, sample: Int) -> CounterRandom {
    CounterRandom(seed: seed, streamWords: [augmentationStreamWord, UInt64(epoch), UInt64(sample)])
}

/// A uniform integer in 0..<bound from 64 random bits (multiply-shift: ⌊u·bound / 2⁶⁴⌋; the bias
/// is below bound/2⁶⁴).
@inline(__always)
func boundedValue(_ bits: UInt64, below bound: Int) -> Int {
    Int(bits.multipliedFullWidth(by: UInt64(bound)).high)
}
