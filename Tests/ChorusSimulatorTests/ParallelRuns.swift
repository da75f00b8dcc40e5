import Foundation
import Synchronization

/// Runs independent simulations on every core and returns their results in input order.
///
/// README's test command runs tests one at a time (`--no-parallel`: the integration tests own
/// fixed ports and real processes), so the long simulator sweeps spread their own runs over the
/// cores. Every run is deterministic and shares nothing, so the results do not depend on which
/// thread ran them. Expectations are checked by the caller, on the test's own task.
func parallelRuns<Input: Sendable, Output: Sendable>(_ inputs: [Input], _ run: @Sendable (Input) -> Output) -> [Output] {
    let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, inputs.count))
    let next = Mutex(0)
    let outputs = Mutex([Output?](repeating: nil, count: inputs.count))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let index = next.withLock { value -> Int in
                defer { value += 1 }
                return value
            }
            guard index < inputs.count else { return }
            let output = run(inputs[index])
            outputs.withLock { $0[index] = output }
        }
    }
    return outputs.withLock { $0.map { $0! } }
}
