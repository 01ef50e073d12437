import Foundation
import Testing
@testable import Training
import TestSupport

/// `checkpoint.on_error` (ConfigTests style): default, file, override, wrong value, round trip.
@Suite struct CheckpointOnErrorConfigTests {
    private func load(_ yaml: String, _ overrides: [String] = []) throws -> RunConfig {
        let directory = try temporaryDirectoryURL("fault-config", label: "")
        let path = directory.appendingPathComponent("run.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try RunConfig.load(file: path, overrides: overrides)
    }

    @Test func defaultIsStop() throws {
        #expect(RunConfig().checkpoint.onError == .stop)
        #expect(try load("data: {train: t.h5}").checkpoint.onError == .stop)
    }

    @Test func fileAndOverrideSetIt() throws {
        #expect(try load("data: {train: t.h5}\ncheckpoint: {on_error: continue}").checkpoint.onError == .continue)
        #expect(try load("data: {train: t.h5}\ncheckpoint: {on_error: continue}", ["checkpoint.on_error=stop"])
                .checkpoint.onError == .stop)
    }

    @Test func unknownValueIsAOneLineError() throws {
        do {
            _ = try load("data: {train: t.h5}", ["checkpoint.on_error=retry"])
            Issue.record("checkpoint.on_error=retry was accepted")
        } catch let error as ConfigError {
            #expect(error.kind == .wrongType)
            #expect(error.description == #"--set checkpoint.on_error: expected one of stop, continue, got "retry""#)
        }
    }

    @Test func resolvedYAMLCarriesItAndReadsBack() throws {
        var config = try load("data: {train: t.h5}\ncheckpoint: {dir: r}")
        config.checkpoint.onError = .continue
        #expect(config.yaml.split(separator: "\n").contains("  on_error: continue"))
        #expect(try RunConfig(yaml: config.yaml, label: "resolved") == config)
        #expect(RunConfig.keyPaths.last == "checkpoint.on_error")
        #expect(!RunConfig.isArchitectureKey("checkpoint.on_error"))
    }
}

/// `--inject-fault` specifications.
@Suite struct InjectedFaultsTests {
    @Test func validSpecifications() throws {
        #expect(try InjectedFault(parsing: "kill-writer-at-step-6") == .killWriter(step: 6))
        #expect(try InjectedFault(parsing: "stop-writer-at-step-4") == .stopWriter(step: 4))
        #expect(try InjectedFault(parsing: "nan-loss-at-step-5-rank-1-times-3") == .poisonLoss(step: 5, rank: 1, times: 3))
        #expect(try InjectedFault(parsing: "huge-grad-at-step-2-rank-0")
                == .poisonGradient(step: 2, rank: 0, times: 1, value: InjectedFault.hugeGradient))
        guard case let .poisonGradient(step, rank, times, value) = try InjectedFault(parsing: "nan-grad-at-step-4-rank-1") else {
            Issue.record("nan-grad is not a gradient poison")
            return
        }
        #expect(step == 4 && rank == 1 && times == 1 && value.isNaN)
    }

    @Test(arguments: ["kill-writer-at-step-x", "kill-writer-at-step-0", "kill-writer-at-step-3-rank-1", "nan-grad-at-step-4",
                      "nan-loss-at-step-4-rank-1-times-0", "nan-grad-at-step-4-rank-1-rank-0", "melt-cpu-at-step-1", "",
                      "nan-grad-at-step-4-rank-1-", "nan-grad-at-step-4-rank--1"])
    func invalidSpecificationsAreOneLineErrors(spec: String) {
        let error = #expect(throws: TrainingError.self) { try InjectedFault(parsing: spec) }
        #expect(error?.description.hasPrefix("unknown fault '\(spec)' (expected kill-writer-at-step-N") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func poisonStrikesOnlyItsRankStepAndAttempts() throws {
        let fault = try InjectedFault(parsing: "nan-loss-at-step-3-rank-1-times-2")
        let other = TrainingHooks.injecting(fault: fault, stopAtStep: nil, stepDelaySeconds: 0, rank: 0)
        #expect(other.spoil(3) == nil)
        let hooks = TrainingHooks.injecting(fault: fault, stopAtStep: nil, stepDelaySeconds: 0, rank: 1)
        #expect(hooks.spoil(2) == nil)
        #expect(hooks.spoil(3) == .loss)
        #expect(hooks.spoil(3) == .loss)
        #expect(hooks.spoil(3) == nil, "struck more than twice")
    }

    @Test func noHooksDoNothing() {
        let hooks = TrainingHooks.none
        #expect(hooks.atStepBoundary(0) == nil)
        #expect(hooks.spoil(1) == nil)
        let parameters = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { parameters.deallocate() }
        parameters[0] = 1
        hooks.afterUpdate(1, parameters)
        #expect(parameters[0] == 1)
    }

    @Test func stopAtStepAnswersAtItsBoundaryOnly() {
        let hooks = TrainingHooks.injecting(fault: nil, stopAtStep: 4, stepDelaySeconds: 0, rank: 0)
        #expect(hooks.atStepBoundary(3) == nil)
        #expect(hooks.atStepBoundary(4) == SIGTERM)
    }
}

/// The end-to-end comparisons fail on a NaN loss or parameter.
@Suite struct NaNComparisonTests {
    @Test func lossAndParameterDifferencesKeepANaN() {
        #expect(relativeDifference([1: 1, 2: .nan, 3: 1], [1: 1, 2: 1, 3: 1], steps: 1...3).isNaN)
        #expect(relativeDifference([1: 1, 2: 1], [1: 1, 2: 1], steps: 1...2) == 0)
        #expect(relativeDifference([1: 1], [1: 1, 2: 1], steps: 1...2) == .infinity)
        let one = Float(1).bitPattern, nan = Float.nan.bitPattern
        let reference = ["/model/w": [one, one, one], "/optimizer/w/exp_avg": [one]]
        #expect(parameterDifference(["/model/w": [one, nan, one], "/optimizer/w/exp_avg": [one]], reference).isNaN)
        #expect(parameterDifference(reference, reference) == 0)
        #expect(!(parameterDifference(["/model/w": [one, one, nan], "/optimizer/w/exp_avg": [one]], reference) <= 1e-5))
    }
}
