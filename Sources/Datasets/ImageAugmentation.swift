/// Training augmentation for images: a random crop of the image padded with `padding` black
/// pixels on every side, then a horizontal flip with probability ½ (the usual CIFAR recipe).
///
/// The offsets and the flip of a sample are drawn from (seed, epoch, sample index) alone, so a
/// sample looks the same whatever the number of ranks, and differently in every epoch.
public struct ImageAugmentation: Sendable, Equatable {
    /// Zero padding on each side before cropping back to H×W (pixels; 0 disables cropping).
    public var padding: Int
    /// Whether to mirror left–right with probability ½.
    public var horizontalFlip: Bool
    /// Seed of the augmentation draws (usually the training seed).
    public var seed: UInt64

    public init(padding: Int = 4, horizontalFlip: Bool = true, seed: UInt64) {
        precondition(padding >= 0, "crop padding must not be negative, got \(padding)")
        self.padding = padding
        self.horizontalFlip = horizontalFlip
        self.seed = seed
    }

    /// The draw for one sample: output pixel (y, x) shows source pixel (y + dy − padding, x' + dx −
    /// padding) with x' = W−1−x if flipped else x; dy, dx uniform in 0…2·padding.
    public func draw(epoch: Int, sample: Int) -> (dy: Int, dx: Int, flip: Bool) {
        let random = augmentationRandom(seed: seed, epoch: epoch, sample: sample)
        var dy = padding, dx = padding
        if padding > 0 {
            dy = boundedValue(random.uint64(at: 0), below: 2 * padding + 1)
            dx = boundedValue(random.uint64(at: 1), below: 2 * padding + 1)
        }
        let flip = horizontalFlip && random.uint64(at: 2) >> 63 == 1
        return (dy, dx, flip)
    }
}

/// Per-channel normalisation of uint8 pixels: x = (p/255 − mean[c]) / std[c], precomputed as
/// x = p·scale[c] + shift[c].
struct PixelNormaliser {
    let height: Int
    let width: Int
    let channels: Int
    let scale: [Float]   // [C] 1 / (255·std[c])
    let shift: [Float]   // [C] −mean[c] / std[c]

    init(height: Int, width: Int, channels: Int, mean: [Double], std: [Double]) {
        precondition(mean.count == channels && std.count == channels, "mean/std need \(channels) channels")
        self.height = height
        self.width = width
        self.channels = channels
        scale = std.map { Float(1.0 / (255.0 * $0)) }
        shift = zip(mean, std).map { Float(-$0 / $1) }
    }

    var pixelsPerImage: Int { height * width * channels }

    /// Writes one normalised image, [H, W, C] → `output` [H·W·C], shifted by (dy − padding,
    /// dx − padding) and mirrored when `flip`; pixels from outside the source are black (p = 0).
    func write(_ source: UnsafePointer<UInt8>, to output: UnsafeMutablePointer<Float>,
               dy: Int = 0, dx: Int = 0, padding: Int = 0, flip: Bool = false) {
        let h = height, w = width, c = channels
        scale.withUnsafeBufferPointer { scale in
            shift.withUnsafeBufferPointer { shift in
                if dy == padding && dx == padding && !flip {
                    // No geometric change: one pass over the image.
                    for p in 0 ..< h &* w {
                        let pixel = source + p &* c
                        let out = output + p &* c
                        for k in 0..<c { out[k] = Float(pixel[k]) * scale[k] + shift[k] }
                    }
                    return
                }
                for y in 0..<h {
                    let sourceY = y &+ dy &- padding
                    let outRow = output + y &* w &* c
                    for x in 0..<w {
                        let out = outRow + x &* c
                        let sourceX = (flip ? w &- 1 &- x : x) &+ dx &- padding
                        if sourceY < 0 || sourceY >= h || sourceX < 0 || sourceX >= w {
                            for k in 0..<c { out[k] = shift[k] }
                        } else {
                            let pixel = source + (sourceY &* w &+ sourceX) &* c
                            for k in 0..<c { out[k] = Float(pixel[k]) * scale[k] + shift[k] }
                        }
                    }
                }
            }
        }
    }
}
