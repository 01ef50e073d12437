import Checkpoints
import Foundation
import Testing
import TestSupport

/// Choosing the checkpoint to resume from: a newest checkpoint whose values were damaged after it
/// was written (its header and configuration still read) is skipped like a truncated one, with one
/// warning naming the damaged dataset, and the run falls back to the checkpoint before it.
@Suite struct CheckpointFallbackTests {
    @Test func newestWithDamagedValuesFallsBackToThePreviousOne() throws {
        let directory = try temporaryDirectory("reliability")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try CheckpointFixture(seed: 1, step: 10).write(into: directory)
        let newest = CheckpointFixture(seed: 2, step: 20)
        let path = try newest.write(into: directory)

        // One bit of one moment of one parameter: the header, /trainer and /config are intact.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let entry = try #require(newest.table.entries.last)
        let needle = newest.expAvgSq[entry.range].withUnsafeBytes { Array($0) }
        let at = try #require(occurrences(of: needle, in: bytes).first?.lowerBound, "the moment's bytes")
        bytes[at + 5] ^= 0x04
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        _ = try CheckpointReader(path: path)   // the header alone does not show the damage

        var warnings: [String] = []
        let chosen = try CheckpointDirectory(path: directory).newestLoadable { warnings.append($0) }
        #expect(chosen?.trainer.step == 10)
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.contains("\(path): /optimizer/\(entry.name)/exp_avg_sq is corrupted") == true, "\(warnings)")
    }
}
