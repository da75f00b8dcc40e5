import ChorusWire
import Testing

@testable import ChorusDaemon

@Suite struct ShownViewsTests {
    private func s(_ daemon: UInt32, _ local: UInt64) -> SessionID { SessionID(daemon: NodeID(daemon), local: local) }

    @Test func eachSessionFollowsOnFromTheLastViewItSaw() {
        var shown = ShownViews()
        #expect(shown.previous(of: 1, in: "g") == nil)
        shown.show([s(1, 1), s(2, 1)], of: "g", to: [1])
        #expect(shown.previous(of: 1, in: "g") == [s(1, 1), s(2, 1)])
        #expect(shown.previous(of: 2, in: "g") == nil, "a session that saw nothing of g")
        // Session 2 joins: its first view; both now follow on from it.
        shown.show([s(1, 1), s(1, 2), s(2, 1)], of: "g", to: [1, 2])
        #expect(shown.previous(of: 1, in: "g") == [s(1, 1), s(1, 2), s(2, 1)])
        #expect(shown.previous(of: 2, in: "g") == [s(1, 1), s(1, 2), s(2, 1)])
        #expect(shown.previous(of: 1, in: "h") == nil, "groups are apart")
        // Session 1 leaves; it comes back later to a first view.
        shown.forget(1, in: "g")
        shown.show([s(1, 2), s(2, 1)], of: "g", to: [2])
        #expect(shown.previous(of: 1, in: "g") == nil)
        #expect(shown.previous(of: 2, in: "g") == [s(1, 2), s(2, 1)])
    }

    @Test func aGroupIsForgottenWithItsLastSession() {
        var shown = ShownViews()
        shown.show([s(1, 1)], of: "g", to: [1])
        shown.forget(1)
        #expect(shown.previous(of: 1, in: "g") == nil)
        // A new session with a reused number starts afresh.
        shown.show([s(1, 1)], of: "g", to: [1])
        #expect(shown.previous(of: 1, in: "g") == [s(1, 1)])
    }
}
