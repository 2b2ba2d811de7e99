import RouteSpec

/// Who a request says it is, before authentication.
public enum RouteCaller: Sendable, Hashable {
  /// Authenticate the request's presented key (`RequestFacts.key`) per `[server] auth`, as the gateway does.
  case presentedKey
  /// Evaluate as this client (index in `RouteTable.clients`), whatever key is presented.
  case client(Int)
  /// A client this table does not define: it holds no key the table knows, so it is an unknown key.
  case unknownClient
}

/// One request as the decision function takes it: who it claims to be and its facts.
public struct RouteQuery: Sendable {
  /// How the request authenticates.
  public var caller: RouteCaller
  /// The request; its `client` is ignored and replaced by the authenticated client.
  public var facts: RequestFacts

  /// Creates a query.
  public init(caller: RouteCaller, facts: RequestFacts) {
    self.caller = caller
    self.facts = facts
  }
}

/// Why a request was refused before any route was evaluated.
public enum AuthenticationFailure: Sendable, Hashable {
  /// Auth is required and no key was presented: 403 PERMISSION_DENIED.
  case missingKey
  /// Auth is required and the key is unknown: 400 INVALID_ARGUMENT (API_KEY_INVALID).
  case unknownKey
}

/// What the table does with one request: the single "facts → outcome" rule shared by the gateway,
/// `[[tests]]`, `louter explain`, `louter diff` and the models catalog.
public enum RouteDecision: Sendable {
  /// Refused by authentication; no route was evaluated.
  case unauthenticated(AuthenticationFailure)
  /// A deny route matched: 403 with its message.
  case denied(route: Int, message: String)
  /// No route matched: 404.
  case noRoute
  /// A forwarding route matched.
  case routed(ForwardPlan)

  /// The HTTP status the gateway answers with (200 for a routed request before any backend).
  public var status: Int {
    switch self {
    case .unauthenticated(.missingKey): 403
    case .unauthenticated(.unknownKey): 400
    case .denied: 403
    case .noRoute: 404
    case .routed: 200
    }
  }

  /// The index of the matched route, if one matched.
  public var route: Int? {
    switch self {
    case .denied(let route, _): route
    case .routed(let plan): plan.route
    case .unauthenticated, .noRoute: nil
    }
  }
}

extension RouteTable {
  /// How `caller` authenticates, presenting `key`.
  public func authenticate(_ caller: RouteCaller, key: String?) -> Authentication {
    switch caller {
    case .presentedKey: authenticate(key: key)
    case .client(let index): .client(index)
    case .unknownClient: server.auth == .required ? .invalidKey : .anonymous
    }
  }

  /// Decides `query`: authentication first (a refused request evaluates no route), then the first matching
  /// route in file order, with its deny or forward action applied.
  public func decide(_ query: RouteQuery) -> RouteDecision {
    decide(query.facts, authentication: authenticate(query.caller, key: query.facts.key))
  }

  /// Decides `facts` for a request already authenticated as `authentication`.
  public func decide(_ facts: consuming RequestFacts, authentication: Authentication) -> RouteDecision {
    // Consuming: the caller's facts move in rather than being copied (their strings and header pairs
    // retained) to set the client.
    if let failure = authentication.failure { return .unauthenticated(failure) }
    facts.client = authentication.clientIndex
    switch plan(for: facts) {
    case .noRoute: return .noRoute
    case .deny(let route, let message): return .denied(route: route, message: message)
    case .forward(let plan): return .routed(plan)
    }
  }
}

extension Authentication {
  /// Why this outcome refuses the request, or nil when it may go on to the routes.
  public var failure: AuthenticationFailure? {
    switch self {
    case .missingKey: .missingKey
    case .invalidKey: .unknownKey
    case .anonymous, .client: nil
    }
  }
}
