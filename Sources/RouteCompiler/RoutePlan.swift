public import RouteSpec

/// What the runtime knows about a request when it picks a route.
public struct RequestFacts: Sendable {
  /// The authenticated client's index in `RouteTable.clients`, if any.
  public var client: Int?
  /// The presented key (only its prefix is matched).
  public var key: String?
  /// The requested model name (without `models/`).
  public var model: String
  /// Which endpoint was called.
  public var endpoint: Endpoint
  /// Whether the request streams.
  public var stream: Bool
  /// Whether it declares tools.
  public var tools: Bool
  /// Whether it carries images.
  public var images: Bool
  /// Request headers with lowercase names (a server passes only those its table's routes match on).
  public var headers: [(name: String, value: String)]
  /// The API the client speaks.
  public var front: Front

  /// Creates request facts.
  public init(
    client: Int? = nil, key: String? = nil, model: String, endpoint: Endpoint = .generate, stream: Bool = false,
    tools: Bool = false, images: Bool = false, headers: [(name: String, value: String)] = [], front: Front = .gemini
  ) {
    self.client = client
    self.key = key
    self.model = model
    self.endpoint = endpoint
    self.stream = stream
    self.tools = tools
    self.images = images
    self.headers = headers
    self.front = front
  }

  /// The value of header `name` (lowercase).
  public func header(_ name: String) -> String? {
    for header in headers where header.name == name { return header.value }
    return nil
  }
}

/// The result of evaluating the table for one request.
public enum RoutePlan: Sendable {
  /// Forward along a backend chain.
  case forward(ForwardPlan)
  /// Refuse with 403: the route index and its message.
  case deny(route: Int, message: String)
  /// No route matched: 404.
  case noRoute
}

/// Everything the runtime needs to forward one request.
public struct ForwardPlan: Sendable {
  /// Index of the matched route.
  public let route: Int
  /// The model to ask the backends for (rewritten or as requested).
  public let model: String
  /// The system-prompt action.
  public let systemPrompt: SystemPromptAction?
  /// Generation clamps and defaults.
  public let generation: [GenerationRule]
  /// Backend indices in fallback order.
  public let chain: [Int]
  /// What makes a hop fall through.
  public let fallbackOn: Set<FallbackTrigger>
  /// When the same backend is tried again first.
  public let retry: RetryRule
  /// Whether a text stream that breaks after bytes reached the client is continued by the next backend.
  public let continueOnBreak: Bool
  /// Steps of `chain` that are groups, whose order is picked per request.
  public var groups: [ChainGroup] = []
}

extension CompiledMatch {
  /// Whether every field of this match holds for `facts`.
  public func matches(_ facts: RequestFacts) -> Bool {
    firstFailure(facts) == nil
  }

  /// The first field that does not hold, with why; nil when the match holds.
  public func firstFailure(_ facts: RequestFacts) -> MatchFailure? {
    switch clients {
    case .any: break
    case .anyAuthenticated:
      if facts.client == nil { return .client }
    case .clients(let allowed):
      guard let client = facts.client, allowed.contains(client) else { return .client }
    }
    if !models.isEmpty, !models.contains(where: { $0.matches(facts.model) }) { return .model }
    if !keyPrefixes.isEmpty {
      guard let key = facts.key, keyPrefixes.contains(where: { key.hasPrefix($0) }) else { return .keyPrefix }
    }
    if let stream, stream != facts.stream { return .stream }
    if let tools, tools != facts.tools { return .tools }
    if let images, images != facts.images { return .images }
    for header in headers where facts.header(header.name) != header.value { return .header(header.name) }
    if !endpoints.isEmpty, !endpoints.contains(facts.endpoint) { return .endpoint }
    if let front, front != facts.front { return .front }
    return nil
  }
}

/// The match field that rejected a request.
public enum MatchFailure: Sendable, Hashable, CustomStringConvertible {
  case client
  case model
  case keyPrefix
  case stream
  case tools
  case images
  case header(String)
  case endpoint
  case front

  /// The route-file name of the field.
  public var description: String {
    switch self {
    case .client: "client"
    case .model: "model"
    case .keyPrefix: "key_prefix"
    case .stream: "stream"
    case .tools: "tools"
    case .images: "images"
    case .header(let name): "header.\(name)"
    case .endpoint: "endpoint"
    case .front: "front"
    }
  }
}

extension RouteTable {
  /// The plan for a request: first matching route in file order.
  public func plan(for facts: RequestFacts) -> RoutePlan {
    guard let routeIndex = firstMatch(facts) else { return .noRoute }
    return plan(route: routeIndex, facts: facts)
  }

  /// The plan that route `routeIndex` gives `facts` (the route is assumed to match).
  public func plan(route routeIndex: Int, facts: RequestFacts) -> RoutePlan {
    // The action read in place rather than the whole route copied out of the table.
    switch routes[routeIndex].action {
    case .deny(let message):
      return .deny(route: routeIndex, message: message)
    case .forward(let action):
      return .forward(
        ForwardPlan(
          route: routeIndex, model: action.model ?? facts.model, systemPrompt: action.systemPrompt,
          generation: action.generation, chain: action.chain, fallbackOn: action.fallbackOn,
          retry: action.retry, continueOnBreak: action.continueOnBreak, groups: action.groups))
    }
  }

  /// Index of the first route whose match holds, using the index.
  public func firstMatch(_ facts: RequestFacts) -> Int? {
    index.firstMatch(facts, routes: routes)
  }

  /// Index of the first matching route by plain linear scan (the reference the index must agree with).
  public func firstMatchLinear(_ facts: RequestFacts) -> Int? {
    routes.firstIndex { $0.match.matches(facts) }
  }
}
