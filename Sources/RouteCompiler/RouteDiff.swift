public import RouteSpec

/// A request header in a `DiffRequest` (lowercase name, exact value).
public struct DiffHeader: Sendable, Hashable {
  /// Lowercase header name.
  public var name: String
  /// Its value.
  public var value: String

  /// Creates a header; the name is lowercased, as the runtime sees it.
  public init(name: String, value: String) {
    self.name = name.lowercased()
    self.value = value
  }
}

/// A request evaluated against two route tables: the same facts as `louter explain` takes,
/// with the client named rather than indexed, since the two tables number their clients apart.
public struct DiffRequest: Sendable, Hashable {
  /// The client the request authenticates as, by name; nil for a request without a known key.
  public var client: String?
  /// The presented key: feeds `key_prefix`, and identifies the client when `client` is nil.
  public var key: String?
  /// The requested model.
  public var model: String
  /// The endpoint called.
  public var endpoint: Endpoint
  /// Whether the request streams.
  public var stream: Bool
  /// Whether it declares tools.
  public var tools: Bool
  /// Whether it carries images.
  public var images: Bool
  /// Request headers.
  public var headers: [DiffHeader]
  /// The API the client speaks.
  public var front: Front

  /// Creates a request; as in `louter explain`, the `stream` endpoint implies `stream`.
  public init(
    client: String? = nil, key: String? = nil, model: String, endpoint: Endpoint = .generate, stream: Bool = false,
    tools: Bool = false, images: Bool = false, headers: [DiffHeader] = [], front: Front = .gemini
  ) {
    self.client = client
    self.key = key
    self.model = model
    self.endpoint = endpoint
    self.stream = stream || endpoint == .stream
    self.tools = tools
    self.images = images
    self.headers = headers
    self.front = front
  }
}

/// A route as the diff names it: its name (what is compared) and its index in its own table.
public struct DiffRoute: Sendable, Hashable {
  /// The route's name, given or `route-N`.
  public let name: String
  /// Its index in the table it came from (for locating it, never compared).
  public let index: Int
}

/// The actions a forwarding route applies besides the model and the chain.
public struct DiffActions: Sendable, Hashable {
  /// The system-prompt action.
  public let systemPrompt: SystemPromptAction?
  /// Generation clamps and defaults, in route order.
  public let generation: [GenerationRule]
  /// Fallback triggers in `FallbackTrigger.allCases` order.
  public let fallbackOn: [FallbackTrigger]
  /// The retry rule.
  public let retry: RetryRule
  /// Whether a broken stream is continued by the next backend.
  public let continueOnBreak: Bool
  /// The chain's groups and their weights.
  public let groups: [ChainGroup]
  /// The limits of the client the request comes from (none for an anonymous caller).
  public var limits = ClientLimits()
}

/// What one table does with one request.
public enum DiffOutcome: Sendable, Hashable {
  /// Refused before any route (400 unknown key, 403 missing key).
  case rejected(status: Int)
  /// No route matched: 404.
  case noRoute
  /// A `deny` route matched: 403 with its message.
  case denied(route: DiffRoute, message: String)
  /// Forwarded along a chain.
  case forwarded(route: DiffRoute, model: String, backends: [String], actions: DiffActions)

  /// The HTTP status the client sees before any backend answers (200 for forwarded).
  public var status: Int {
    switch self {
    case .rejected(let status): status
    case .noRoute: 404
    case .denied: 403
    case .forwarded: 200
    }
  }

  /// The matched route, if any.
  public var route: DiffRoute? {
    switch self {
    case .rejected, .noRoute: nil
    case .denied(let route, _), .forwarded(let route, _, _, _): route
    }
  }

  /// The deny message, if a deny route matched.
  public var denyMessage: String? {
    if case .denied(_, let message) = self { return message }
    return nil
  }
}

/// One aspect of an outcome that a diff reports as changed.
public enum DiffAspect: String, Sendable, Hashable, CaseIterable {
  /// The status the client sees (200, 400, 403, 404).
  case status
  /// The matched route's name.
  case route
  /// A deny appears, disappears or changes its message.
  case deny
  /// The model sent upstream.
  case model
  /// The backend chain (its members or their order).
  case backends
  /// The system prompt, generation rules or fallback triggers.
  case actions
}

/// One request whose outcome differs between the two tables.
public struct RouteDiffChange: Sendable, Hashable {
  /// The request.
  public let request: DiffRequest
  /// What the old table does with it.
  public let old: DiffOutcome
  /// What the new table does with it.
  public let new: DiffOutcome
  /// What differs, in `DiffAspect.allCases` order; never empty.
  public let aspects: [DiffAspect]
}

/// The result of comparing two tables over a set of requests.
public struct RouteDiffReport: Sendable {
  /// How many requests were evaluated.
  public let evaluated: Int
  /// The requests whose outcome changed, in the order they were given.
  public let changes: [RouteDiffChange]
}

/// Compares what two compiled route tables do with the same requests, using `RouteTable.decide`:
/// the decision function the gateway itself uses.
public enum RouteDiff {
  /// The model name used for "a model that no glob or exact name matches".
  static let unmatchedModel = "louter-diff-unmatched-model"

  /// Evaluates `requests` against both tables and keeps those whose outcome differs.
  public static func compare(old: RouteTable, new: RouteTable, requests: [DiffRequest]) -> RouteDiffReport {
    var changes: [RouteDiffChange] = []
    for request in requests {
      let before = outcome(of: request, in: old)
      let after = outcome(of: request, in: new)
      let aspects = differences(before, after)
      if !aspects.isEmpty {
        changes.append(RouteDiffChange(request: request, old: before, new: after, aspects: aspects))
      }
    }
    return RouteDiffReport(evaluated: requests.count, changes: changes)
  }

  /// What `table` does with `request`: `RouteTable.decide`, with the client resolved by name.
  public static func outcome(of request: DiffRequest, in table: RouteTable) -> DiffOutcome {
    // A client this table does not define has no key it knows: its key is an unknown key here.
    let caller = request.client.map { name in table.clientIndex[name].map(RouteCaller.client) ?? .unknownClient }
    let facts = RequestFacts(
      key: request.key, model: request.model, endpoint: request.endpoint, stream: request.stream,
      tools: request.tools, images: request.images, headers: request.headers.map { ($0.name, $0.value) },
      front: request.front)
    let decision = table.decide(RouteQuery(caller: caller ?? .presentedKey, facts: facts))
    switch decision {
    case .unauthenticated:
      return .rejected(status: decision.status)
    case .noRoute:
      return .noRoute
    case .denied(let route, let message):
      return .denied(route: DiffRoute(name: table.routes[route].name, index: route), message: message)
    case .routed(let plan):
      var actions = DiffActions(
        systemPrompt: plan.systemPrompt, generation: plan.generation,
        fallbackOn: FallbackTrigger.allCases.filter(plan.fallbackOn.contains), retry: plan.retry,
        continueOnBreak: plan.continueOnBreak, groups: plan.groups)
      if let name = request.client, let index = table.clientIndex[name], table.clients.indices.contains(index) {
        actions.limits = table.clients[index].limits
      }
      return .forwarded(
        route: DiffRoute(name: table.routes[plan.route].name, index: plan.route), model: plan.model,
        backends: plan.chain.map { table.backends[$0].name }, actions: actions)
    }
  }

  /// The aspects in which two outcomes differ; empty when the request is treated the same.
  public static func differences(_ old: DiffOutcome, _ new: DiffOutcome) -> [DiffAspect] {
    var aspects: Set<DiffAspect> = []
    if old.status != new.status { aspects.insert(.status) }
    if old.route?.name != new.route?.name { aspects.insert(.route) }
    if old.denyMessage != new.denyMessage { aspects.insert(.deny) }
    if case .forwarded(_, let oldModel, let oldChain, let oldActions) = old,
      case .forwarded(_, let newModel, let newChain, let newActions) = new
    {
      if oldModel != newModel { aspects.insert(.model) }
      if oldChain != newChain { aspects.insert(.backends) }
      if oldActions != newActions { aspects.insert(.actions) }
    }
    return DiffAspect.allCases.filter(aspects.contains)
  }

  // MARK: the covering set

  /// Requests that tell apart everything the rules of either table can tell apart: every client
  /// (and no client, where either table lets anonymous requests through) × every key prefix (and
  /// none) × every literal model, a witness of every glob and of every overlapping pair of globs
  /// (and one model nothing matches) ×
  /// stream, tools and images where a route matches on them × every endpoint where a route
  /// matches on one × every header value a route names (and the header absent).
  public static func coveringRequests(old: RouteTable, new: RouteTable) -> [DiffRequest] {
    let tables = [old, new]
    let matches = tables.flatMap { $0.routes.map(\.match) }

    var identities: [String?] = []
    if tables.contains(where: { $0.server.auth == .none }) { identities.append(nil) }
    for name in tables.flatMap({ $0.clients.map(\.name) }) where !identities.contains(name) {
      identities.append(name)
    }

    // A key that is the prefix itself has that prefix (and any shorter listed one), and nothing else.
    let keys: [String?] = [nil] + sortedUnique(matches.flatMap(\.keyPrefixes)).map { Optional($0) }

    let models = modelWitnesses(tables)
    let streams = matches.contains { $0.stream != nil } ? [false, true] : [false]
    let tools = matches.contains { $0.tools != nil } ? [false, true] : [false]
    let images = matches.contains { $0.images != nil } ? [false, true] : [false]
    let endpoints: [Endpoint] = matches.contains { !$0.endpoints.isEmpty } ? Endpoint.allCases : [.generate]
    let headerSets = headerCombinations(matches)
    let fronts: [Front] = matches.contains { $0.front != nil } ? Front.allCases : [.gemini]

    var seen: Set<DiffRequest> = []
    var requests: [DiffRequest] = []
    for client in identities {
      for key in keys {
        for model in models {
          for endpoint in endpoints {
            for stream in streams {
              for tool in tools {
                for image in images {
                  for headers in headerSets {
                    for front in fronts {
                      let request = DiffRequest(
                        client: client, key: key, model: model, endpoint: endpoint, stream: stream, tools: tool,
                        images: image, headers: headers, front: front)
                      // The stream endpoint forces stream, so two combinations can be the same request.
                      if seen.insert(request).inserted { requests.append(request) }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return requests
  }

  /// Every exact model name either table mentions (route matches, route rewrites, backend
  /// `models`), a witness for every glob, and one name nothing matches; sorted.
  static func modelWitnesses(_ tables: [RouteTable]) -> [String] {
    var names: Set<String> = []
    var patterns: [ModelPattern] = []
    for table in tables {
      for route in table.routes {
        patterns += route.match.models
        if case .forward(let action) = route.action, let model = action.model { names.insert(model) }
      }
      for backend in table.backends { names.formUnion(backend.models.map(\.name)) }
    }
    var globs: [[String]] = []
    for pattern in patterns {
      switch pattern {
      case .exact(let name): names.insert(name)
      case .glob(let pieces, _):
        if let witness = globWitness(pieces: pieces), pattern.matches(witness) { names.insert(witness) }
        if !globs.contains(pieces) { globs.append(pieces) }
      }
    }
    // Two globs that overlap (`gemini-*-pro`, `gemini-2.5-*`) tell apart a name that matches both:
    // reordering the two routes changes only such names. Pairs are bounded so that a table with
    // thousands of globs stays fast; past the bound only single-glob witnesses are used.
    if globs.count <= maxGlobsForPairs {
      for (index, first) in globs.enumerated() {
        for second in globs[(index + 1)...] {
          if let witness = overlapWitness(first, second) { names.insert(witness) }
        }
      }
    }
    var unmatched = unmatchedModel
    var suffix = 0
    // Bounded: each pattern can claim at most one of the candidates it matches only by accident,
    // and a glob like `*` matches all of them, in which case there is no such model.
    while patterns.contains(where: { $0.matches(unmatched) }), suffix <= patterns.count {
      suffix += 1
      unmatched = "\(unmatchedModel)-\(suffix)"
    }
    if !patterns.contains(where: { $0.matches(unmatched) }) { names.insert(unmatched) }
    return names.sorted()
  }

  /// Up to this many distinct globs, a witness is sought for every overlapping pair.
  static let maxGlobsForPairs = 256

  /// A name both globs match, when one is easy to build: the longer literal prefix, every
  /// middle piece of both, the longer literal suffix; nil when that name does not match both.
  static func overlapWitness(_ first: [String], _ second: [String]) -> String? {
    guard first.count >= 2, second.count >= 2, let firstPrefix = first.first, let secondPrefix = second.first,
      let firstSuffix = first.last, let secondSuffix = second.last
    else { return nil }
    let prefix = firstPrefix.count >= secondPrefix.count ? firstPrefix : secondPrefix
    let suffix = firstSuffix.count >= secondSuffix.count ? firstSuffix : secondSuffix
    let middle = Array(first.dropFirst().dropLast()) + Array(second.dropFirst().dropLast())
    guard let witness = globWitness(pieces: [prefix] + middle.filter { !$0.isEmpty } + [suffix]) else { return nil }
    let patterns = [first, second].map { ModelPattern($0.joined(separator: "*")) }
    return patterns.allSatisfy { $0.matches(witness) } ? witness : nil
  }

  /// A name a glob matches: its literal pieces joined by `x` (after `-` when a piece ends in a
  /// letter or digit), so `gemini-2.5-pro*` gives `gemini-2.5-pro-x`.
  public static func globWitness(pieces: [String]) -> String? {
    guard var witness = pieces.first else { return nil }
    for piece in pieces.dropFirst() {
      let last = witness.unicodeScalars.last
      let needsDash = last.map { $0.properties.isAlphabetic || ("0"..."9").contains($0) } ?? false
      witness += (needsDash ? "-x" : "x") + piece
    }
    return witness
  }

  /// Every combination of the header values routes name: per header name, each named value or
  /// the header absent.
  static func headerCombinations(_ matches: [CompiledMatch]) -> [[DiffHeader]] {
    var valuesByName: [String: Set<String>] = [:]
    for match in matches {
      for header in match.headers { valuesByName[header.name, default: []].insert(header.value) }
    }
    var combinations: [[DiffHeader]] = [[]]
    for name in valuesByName.keys.sorted() {
      let values = (valuesByName[name] ?? []).sorted()
      combinations = combinations.flatMap { prefix in
        [prefix] + values.map { prefix + [DiffHeader(name: name, value: $0)] }
      }
    }
    return combinations
  }

  private static func sortedUnique(_ values: [String]) -> [String] { Array(Set(values)).sorted() }
}
