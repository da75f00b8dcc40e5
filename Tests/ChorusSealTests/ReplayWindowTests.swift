import ChorusSeal
import Testing

struct ReplayWindowTests {
    @Test func takesEachCounterOnceAcrossWordBoundariesAndJumps() {
        var window = ReplayWindow()
        var model = Set<UInt64>()
        var generator = SystemRandomNumberGenerator()
        var highest: UInt64 = 0
        for _ in 0..<20_000 {
            // Mostly forward, with reordering, repeats and the odd long jump.
            let step = UInt64.random(in: 0..<100, using: &generator)
            let candidate: UInt64
            switch step {
            case 0..<60: candidate = highest + UInt64.random(in: 1...3, using: &generator)
            case 60..<95: candidate = highest >= 200 ? highest - UInt64.random(in: 0..<200, using: &generator) : highest
            case 95..<99: candidate = highest >= ReplayWindow.size + 10 ? highest - ReplayWindow.size - UInt64.random(in: 0..<10, using: &generator) : highest
            default: candidate = highest + UInt64.random(in: 64...10_000, using: &generator)
            }
            let expected = !model.contains(candidate) && (candidate > highest || highest - candidate < ReplayWindow.size || model.isEmpty)
            #expect(window.take(candidate) == expected, "counter \(candidate) with highest \(highest)")
            if expected {
                model.insert(candidate)
                highest = max(highest, candidate)
            }
        }
    }

    @Test func theEdgesOfTheWindow() {
        var window = ReplayWindow()
        #expect(window.take(ReplayWindow.size) == true)
        #expect(window.take(1) == true)  // exactly size - 1 below the highest
        #expect(window.take(0) == false)  // size below: too old
        #expect(window.take(1) == false)
        #expect(window.take(UInt64.max) == true)
        #expect(window.take(UInt64.max) == false)
        #expect(window.take(UInt64.max - 1) == true)
    }

    @Test func movingUpToTheLastCounterClearsOnlyWhatItPasses() {
        var window = ReplayWindow()
        #expect(window.take(UInt64.max - 100) == true)
        #expect(window.take(UInt64.max - 70) == true)
        #expect(window.take(UInt64.max) == true)
        #expect(window.take(UInt64.max - 100) == false)
        #expect(window.take(UInt64.max - 70) == false)
        #expect(window.take(UInt64.max - 99) == true)
        #expect(window.admits(UInt64.max - ReplayWindow.size + 1) && !window.admits(UInt64.max - ReplayWindow.size))
    }
}
