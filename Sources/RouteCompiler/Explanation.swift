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
  /// What the table does with the request (`RouteTable.decide`).
  public let decision: RouteDecision
}

extension RouteTable {
  /// Decides `query` and records why each route before the matched one (every route, when none matched)
  /// was skipped; a request refused by authentication skips nothing.
  public func explain(_ query: RouteQuery, limit: Int = 5) -> Explanation {
    let authentication = authenticate(query.caller, key: query.facts.key)
    let decision = decide(query.facts, authentication: authentication)
    var facts = query.facts
    facts.client = authentication.clientIndex
    let evaluated: Int
    switch decision {
    case .unauthenticated: evaluated = 0
    case .noRoute, .denied, .routed: evaluated = decision.route ?? routes.count
    }
    var skipped: [(Int, MatchFailure)] = []
    var skippedCount = 0
    for index in 0..<evaluated {
      // Every route before the decided one fails to match, so each has a first failing field.
      guard let failure = routes[index].match.firstFailure(facts) else { continue }
      skippedCount += 1
      if skipped.count < limit { skipped.append((index, failure)) }
    }
    return Explanation(
      skipped: skipped, skippedCount: skippedCount, matched: decision.route,
      heldFields: decision.route.map { routes[$0].match.constrainedFields } ?? [], authentication: authentication,
      decision: decision)
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
    if front != nil { fields.append("front") }
    return fields
  }
}
