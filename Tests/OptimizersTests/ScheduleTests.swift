import Foundation
import Testing
@testable import Optimizers

/// Relative closeness for Double schedule values (they are computed in Double on both sides).
private func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(b))
}

@Suite struct ScheduleTests {
    let peak = 1e-3
    let floor = 1e-4
    let warmup = 10
    let total = 110

    func schedule(_ kind: ScheduleKind, gamma: Double = 0.1, stepSize: Int = 0) -> LearningRateSchedule {
        LearningRateSchedule(kind: kind, learningRate: peak, minLearningRate: floor, warmupSteps: warmup,
                             totalSteps: total, gamma: gamma, stepSize: stepSize)
    }

    @Test(arguments: ScheduleKind.allCases)
    func warmupIsLinearFromPeakOverW(kind: ScheduleKind) {
        let s = schedule(kind)
        #expect(close(s.learningRate(atStep: 0), peak / 10))           // first update: η/W
        #expect(close(s.learningRate(atStep: 4), peak * 5 / 10))
        #expect(close(s.learningRate(atStep: 9), peak))                // last warm-up step: η
        #expect(close(s.learningRate(atStep: 10), peak))               // first decay step: p = 0
    }

    @Test func constantHoldsPeak() {
        let s = schedule(.constant)
        for step in [10, 50, 110, 500] { #expect(s.learningRate(atStep: step) == peak) }
        let noWarmup = LearningRateSchedule(kind: .constant, learningRate: 0.5, totalSteps: 3)
        #expect(noWarmup.learningRate(atStep: 0) == 0.5)
    }

    @Test func cosineFormula() {
        let s = schedule(.cosine)
        func expected(_ step: Int) -> Double {
            let p = min(1, Double(step - warmup) / Double(total - warmup))
            return floor + (peak - floor) * (1 + cos(Double.pi * p)) / 2
        }
        for step in [10, 23, 60, 97, 109, 110, 111, 1000] {
            #expect(close(s.learningRate(atStep: step), expected(step)), "step \(step)")
        }
        #expect(close(s.learningRate(atStep: 60), (peak + floor) / 2))  // midpoint
        #expect(close(s.learningRate(atStep: 110), floor))              // end
        #expect(close(s.learningRate(atStep: 5000), floor))             // past end
        #expect(s.learningRate(atStep: 35) > s.learningRate(atStep: 36))
    }

    @Test func linearFormula() {
        let s = schedule(.linear)
        for step in [10, 35, 60, 109, 110, 200] {
            let p = min(1, Double(step - warmup) / 100)
            #expect(close(s.learningRate(atStep: step), peak - (peak - floor) * p), "step \(step)")
        }
        #expect(close(s.learningRate(atStep: 60), 5.5e-4))
        #expect(close(s.learningRate(atStep: 110), floor))
        #expect(close(s.learningRate(atStep: 111), floor))
    }

    @Test func stepDecayWithExplicitStepSize() {
        let s = schedule(.step, gamma: 0.5, stepSize: 20)
        #expect(close(s.learningRate(atStep: 10), peak))
        #expect(close(s.learningRate(atStep: 29), peak))
        #expect(close(s.learningRate(atStep: 30), peak * 0.5))
        #expect(close(s.learningRate(atStep: 49), peak * 0.5))
        #expect(close(s.learningRate(atStep: 50), peak * 0.25))
        // 0.5⁴ η = 6.25e-5 < η_min: floored.
        #expect(close(s.learningRate(atStep: 90), floor))
        #expect(close(s.learningRate(atStep: 110), floor))
        #expect(close(s.learningRate(atStep: 999), floor))
    }

    @Test func stepDecayAutomaticThirds() {
        // (S − W)/3 = 33: decays at s = 43 and 76 (and 109), γ = 0.1, floor 1e-5.
        let s = LearningRateSchedule(kind: .step, learningRate: 1e-2, minLearningRate: 1e-5, warmupSteps: 10,
                                     totalSteps: 110)
        #expect(s.effectiveStepSize == 33)
        #expect(close(s.learningRate(atStep: 42), 1e-2))
        #expect(close(s.learningRate(atStep: 43), 1e-3))
        #expect(close(s.learningRate(atStep: 76), 1e-4))
        #expect(close(s.learningRate(atStep: 109), 1e-5))
        #expect(close(s.learningRate(atStep: 2000), 1e-5))   // held past the end
    }

    @Test func inverseSquareRoot() {
        let s = LearningRateSchedule(kind: .inverseSqrt, learningRate: 1e-3, minLearningRate: 0,
                                     warmupSteps: 16, totalSteps: 1000)
        #expect(close(s.learningRate(atStep: 0), 1e-3 / 16))
        #expect(close(s.learningRate(atStep: 15), 1e-3))
        #expect(close(s.learningRate(atStep: 16), 1e-3))
        #expect(close(s.learningRate(atStep: 64), 1e-3 / 2))
        #expect(close(s.learningRate(atStep: 400), 1e-3 / 5))
        #expect(close(s.learningRate(atStep: 1600), 1e-4))            // past the end still decays
        let floored = LearningRateSchedule(kind: .inverseSqrt, learningRate: 1e-3, minLearningRate: 3e-4,
                                           warmupSteps: 16, totalSteps: 1000)
        #expect(close(floored.learningRate(atStep: 1600), 3e-4))
        let noWarmup = LearningRateSchedule(kind: .inverseSqrt, learningRate: 1, totalSteps: 10)
        #expect(close(noWarmup.learningRate(atStep: 0), 1))
        #expect(close(noWarmup.learningRate(atStep: 1), 1))
        #expect(close(noWarmup.learningRate(atStep: 4), 0.5))
    }

    @Test func warmupEqualToTotalEndsAtFloor() {
        let s = LearningRateSchedule(kind: .cosine, learningRate: 1, minLearningRate: 0.1, warmupSteps: 5,
                                     totalSteps: 5)
        #expect(close(s.learningRate(atStep: 4), 1))
        #expect(close(s.learningRate(atStep: 5), 0.1))
    }
}
