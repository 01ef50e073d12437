import Foundation
import Testing
import TestSupport

/// `flowformer bench generate` end to end on a small model: a table row and a JSON entry per
/// (attention, context), positive rates, and state sizes that are flat for flow and linear and
/// grow with the context for softmax.
@Suite struct BenchGenerateTests {
    @Test func smallRunWritesTheTableAndTheJSON() throws {
        let directory = try temporaryDirectoryURL("bench-test")
        defer { try? FileManager.default.removeItem(at: directory) }
        let json = directory.appendingPathComponent("generate.json").path
        let run = try runFlowformer(["bench", "generate", "--contexts", "16,64", "--tokens", "4", "--rounds", "1",
                                     "--d-model", "16", "--heads", "2", "--layers", "1", "--ff", "32", "--json", json])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("| flow | 64 |") && run.stdout.contains("| softmax | 16 |"), "\(run)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let rows = try #require(object["generate"] as? [[String: Any]])
        #expect(rows.count == 6)
        var state: [String: Int] = [:]
        for row in rows {
            let rate = try #require(row["tokens_per_second"] as? Double)
            #expect(rate > 0 && rate.isFinite)
            state["\(row["attention"]!) \(row["context"]!)"] = row["state_bytes"] as? Int
        }
        #expect(state["flow 16"] != nil && state["flow 16"] == state["flow 64"])
        #expect(state["linear 16"] != nil && state["linear 16"] == state["linear 64"])
        #expect((state["softmax 64"] ?? 0) > (state["softmax 16"] ?? .max))
        let bad = try runFlowformer(["bench", "generate", "--kinds", "flow,nope"])
        #expect(bad.status == 2 && bad.stderr.split(separator: "\n").count == 1, "\(bad)")
    }
}
