import RouteSpec

/// Why a request gets the plan it gets: for `louter explain`.
public struct Explanation: Sendable {
  /// The earlier routes that did not match, with the first field that failed (at most `limit`).
  public let skipped: [(route: Int, failure: MatchFailure)]
  /// How many non-matching routes there were in all.
  public let skippedCount: Int
  /// The matching route, if any.
  public let matched: Int?
  /// The match fields of the matched route that held (empty for a route without `match`).
  public let heldFields: [String]
  /// The authentication outcome.
  public let authentication: Authentication
  /// The plan.
  public let plan: RoutePlan?
}

extension RouteTable {
  /// Evaluates `facts` route by route and records why each earlier route was skipped.
  public func explain(_ facts: RequestFacts, authentication: Authentication, limit: Int = 5) -> Explanation {
    if authentication.rejectionStatus != nil {
      return Explanation(
        skipped: [], skippedCount: 0, matched: nil, heldFields: [], authentication: authentication, plan: nil)
    }
    var skipped: [(Int, MatchFailure)] = []
    var skippedCount = 0
    for (index, route) in routes.enumerated() {
      if let failure = route.match.firstFailure(facts) {
        skippedCount += 1
        if skipped.count < limit { skipped.append((index, failure)) }
        continue
      }
      return Explanation(
        skipped: skipped, skippedCount: skippedCount, matched: index, heldFields: route.match.constrainedFields,
        authentication: authentication, plan: plan(route: index, facts: facts))
    }
    return Explanation(
      skipped: skipped, skippedCount: skippedCount, matched: nil, heldFields: [], authentication: authentication,
      plan: .noRoute)
  }
}

extension CompiledMatch {
  /// The route-file names of the fields this match constrains.
  public var constrainedFields: [String] {
    var fields: [String] = []
    if clients != .any { fields.append("client") }
    if !models.isEmpty { fields.append("model") }
    if !keyPrefixes.isEmpty { fields.append("key_prefix") }
    if stream != nil { fields.append("stream") }
    if tools != nil { fields.append("tools") }
    if images != nil { fields.append("images") }
    fields += headers.map { "header.\($0.name)" }
    if !endpoints.isEmpty { fields.append("endpoint") }
    return fields
  }
}
