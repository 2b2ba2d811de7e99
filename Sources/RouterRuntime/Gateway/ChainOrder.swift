import RouteCompiler
import RouteSpec

/// The order one request tries its chain in: as written, but for each group (`{ balance, members }`) whose
/// members are arranged anew for every request. Pure but for the random source, which tests seed.
enum ChainOrder {
  /// `chain` with every group's positions rearranged: `weighted` draws members one by one, each as likely
  /// as its weight among those left; `least_in_flight` puts the members with the fewest requests in flight
  /// first, ties in weighted random order.
  static func arrange(
    _ chain: [Int], groups: [ChainGroup], inFlight: (Int) -> Int, using random: inout some RandomNumberGenerator
  ) -> [Int] {
    var order = chain
    for group in groups where group.positions.upperBound <= chain.count && group.weights.count == group.positions.count
    {
      let members = Array(zip(chain[group.positions], group.weights))
      var arranged = weightedShuffle(members, using: &random)
      if group.balance == .leastInFlight {
        // A stable sort keeps the weighted order among members equally busy.
        let load = arranged.map { inFlight($0) }
        arranged = arranged.indices.sorted { (load[$0], $0) < (load[$1], $1) }.map { arranged[$0] }
      }
      order.replaceSubrange(group.positions, with: arranged)
    }
    return order
  }

  /// The members in a random order where each comes first as often as its weight says. Weights are at most
  /// 1000000 each (the compiler's range), so their sum cannot overflow.
  static func weightedShuffle(_ members: [(Int, Int)], using random: inout some RandomNumberGenerator) -> [Int] {
    var left = members
    var order: [Int] = []
    while !left.isEmpty {
      let total = left.reduce(0) { $0 + max($1.1, 1) }
      var pick = Int.random(in: 0..<total, using: &random)
      var chosen = left.count - 1
      for (index, member) in left.enumerated() {
        if pick < max(member.1, 1) {
          chosen = index
          break
        }
        pick -= max(member.1, 1)
      }
      order.append(left.remove(at: chosen).0)
    }
    return order
  }
}
