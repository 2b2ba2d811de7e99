import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// A seeded generator (SplitMix64), so that weighted orders are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Load balancing inside a chain step: which member a request asks first, and that every member is still
/// asked before the chain goes on.
@Suite struct ChainOrderTests {
  @Test func weightedGroupsPutEachMemberFirstAsOftenAsItsWeight() {
    var random = SeededGenerator(state: 42)
    let group = ChainGroup(positions: 1..<3, weights: [3, 1], balance: .weighted)
    var firsts: [Int: Int] = [:]
    for _ in 0..<8_000 {
      let order = ChainOrder.arrange([7, 10, 11, 9], groups: [group], inFlight: { _ in 0 }, using: &random)
      #expect(order.first == 7 && order.last == 9, "steps outside the group keep their place")
      #expect(Set(order[1...2]) == [10, 11], "every member is still tried")
      firsts[order[1], default: 0] += 1
    }
    // 3:1 of 8000 is 6000:2000; a seeded run lands within 3 % of it.
    #expect(abs((firsts[10] ?? 0) - 6_000) < 240, "\(firsts)")
  }

  @Test func leastInFlightAsksTheIdlestMemberFirst() {
    var random = SeededGenerator(state: 7)
    let group = ChainGroup(positions: 0..<3, weights: [1, 1, 1], balance: .leastInFlight)
    let busy = [4: 9, 5: 0, 6: 3]
    for _ in 0..<100 {
      let order = ChainOrder.arrange([4, 5, 6], groups: [group], inFlight: { busy[$0] ?? 0 }, using: &random)
      #expect(order == [5, 6, 4])
    }
    // Ties go in weighted random order, so two idle members share the load.
    var firsts: Set<Int> = []
    for _ in 0..<100 {
      firsts.insert(ChainOrder.arrange([4, 5], groups: [group.with(0..<2)], inFlight: { _ in 0 }, using: &random)[0])
    }
    #expect(firsts == [4, 5])
  }

  @Test func aChainWithoutGroupsIsTriedAsWritten() {
    var random = SeededGenerator(state: 1)
    #expect(ChainOrder.arrange([3, 1, 2], groups: [], inFlight: { _ in 0 }, using: &random) == [3, 1, 2])
  }
}

extension ChainGroup {
  /// The same group over other positions (with as many equal weights).
  func with(_ positions: Range<Int>) -> ChainGroup {
    ChainGroup(positions: positions, weights: Array(repeating: 1, count: positions.count), balance: balance)
  }
}
