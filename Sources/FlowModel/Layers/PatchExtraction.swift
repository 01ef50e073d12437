import TensorKernels

/// Cuts images into non-overlapping p×p patches and flattens each in (channel, row, column)
/// order, the layout that makes `patch_embed` = Linear(C·p·p → d_model) equal to a Conv2d with
/// kernel p and stride p whose weight is `patch_embed.weight` reshaped to [d_model, C, p, p].
///
/// Images are stored HWC: pixel (y, x, c) of sample b is `pixels[b, (y·W + x)·C + c]`.
/// Patch (gy, gx) of the (H/p)×(W/p) grid becomes token gy·(W/p) + gx (row-major over the grid,
/// as PyTorch's `conv(x).flatten(2).transpose(1, 2)`), and its feature
///
///     f = c·p·p + r·p + s   holds   pixel (gy·p + r, gx·p + s, c).
///
/// Only a forward exists: pixels are inputs, so no gradient is needed with respect to them.
enum PatchExtraction {
    /// - Parameters:
    ///   - pixels: [samples, height, width, channels].
    ///   - patches: [samples, (height/patch)·(width/patch), channels·patch·patch], overwritten.
    public static func forward<Scalar: TensorScalar>(
        pixels: UnsafePointer<Scalar>, into patches: UnsafeMutablePointer<Scalar>,
        samples: Int, height: Int, width: Int, channels: Int, patch: Int
    ) {
        precondition(height % patch == 0 && width % patch == 0,
                     "image \(height)×\(width) is not divisible into \(patch)×\(patch) patches")
        let gridRows = height / patch, gridColumns = width / patch
        let features = channels &* patch &* patch
        let imageSize = height &* width &* channels
        for b in 0..<samples {
            let image = pixels + b &* imageSize
            let sampleOut = patches + b &* gridRows &* gridColumns &* features
            for gy in 0..<gridRows {
                for gx in 0..<gridColumns {
                    let token = sampleOut + (gy &* gridColumns &+ gx) &* features
                    for r in 0..<patch {
                        // Row r of the patch: `patch` pixels of `channels` values each, HWC.
                        let pixelRow = image + ((gy &* patch &+ r) &* width &+ gx &* patch) &* channels
                        for s in 0..<patch {
                            for c in 0..<channels {
                                token[c &* patch &* patch &+ r &* patch &+ s] = pixelRow[s &* channels &+ c]
                            }
                        }
                    }
                }
            }
        }
    }
}
