public import RouteCompiler
public import RouteSpec

/// What `GET models/{m}` says of one model for one caller.
public struct ModelInfo: Sendable, Equatable {
  /// The model name, without `models/`.
  public let name: String
  /// The methods a route forwards for this caller, in the Gemini API's order.
  public let methods: [GeminiCall.Method]
  /// `inputTokenLimit` and `outputTokenLimit`.
  public let limits: TokenLimits
}

/// Answers `GET models` and `GET models/{m}` from the route table: the models a client may call.
public enum ModelCatalog {
  /// The methods a model can list in `supportedGenerationMethods`, in the order they are listed.
  ///
  /// Every backend protocol serves all of them (countTokens is estimated for openai and echo, embeddings go
  /// to `/embeddings`), so only the routes decide which a caller gets.
  static let generationMethods: [GeminiCall.Method] = [
    .generateContent, .streamGenerateContent, .countTokens, .embedContent, .batchEmbedContents,
  ]

  /// The models this caller may call, sorted by name: exact names its forwarding routes match, and the names
  /// that backends list in `models` and a forwarding route would send to them, each with at least one method
  /// a route forwards. `caller` gives the client, key and headers; its model and endpoint are ignored.
  public static func models(for caller: RequestFacts, table: RouteTable) -> [ModelInfo] {
    var names: [String] = []
    var seen: Set<String> = []
    func add(_ name: String) {
      if seen.insert(name).inserted { names.append(name) }
    }
    for route in table.routes {
      guard case .forward(let forward) = route.action, admits(route.match.clients, client: caller.client) else {
        continue
      }
      for case .exact(let name) in route.match.models { add(name) }
      for backend in forward.chain {
        for model in table.backends[backend].models
        where route.match.models.isEmpty || route.match.models.contains(where: { $0.matches(model.name) }) {
          add(model.name)
        }
      }
    }
    // Only names some plan really forwards (an earlier deny may shadow a later route).
    return names.sorted().compactMap { model($0, for: caller, table: table) }
  }

  /// The model `name` as this caller sees it, or nil when no route forwards any method of it for them.
  ///
  /// `supportedGenerationMethods` holds the methods whose request (no tools, no images; streaming for
  /// `streamGenerateContent`) the table forwards. The limits are those of the first plan that forwards: the
  /// first backend of its chain whose `models` lists the name sent upstream or, failing that, the name asked
  /// for; else the defaults for that chain's first backend's protocol.
  public static func model(_ name: String, for caller: RequestFacts, table: RouteTable) -> ModelInfo? {
    var methods: [GeminiCall.Method] = []
    var first: ForwardPlan?
    // The caller reached the catalog past the gateway's front, so it is authenticated (or auth is off).
    let authentication: Authentication = caller.client.map { .client($0) } ?? .anonymous
    for method in generationMethods {
      var facts = caller
      facts.model = name
      facts.endpoint = GeminiCall(version: "v1beta", method: method, model: name).endpoint
      facts.stream = method == .streamGenerateContent
      facts.tools = false
      facts.images = false
      guard case .routed(let plan) = table.decide(facts, authentication: authentication) else { continue }
      methods.append(method)
      if first == nil { first = plan }
    }
    guard let plan = first else { return nil }
    return ModelInfo(name: name, methods: methods, limits: limits(of: name, plan: plan, table: table))
  }

  static func limits(of name: String, plan: ForwardPlan, table: RouteTable) -> TokenLimits {
    for backend in plan.chain {
      for candidate in [plan.model, name] {
        if let model = table.backends[backend].models.first(where: { $0.name == candidate }) { return model.limits }
      }
    }
    let protocolName = plan.chain.first.map { table.backends[$0].protocolName } ?? .openai
    return RouteCompiler.Defaults.tokenLimits(for: protocolName)
  }

  static func admits(_ constraint: ClientConstraint, client: Int?) -> Bool {
    switch constraint {
    case .any: true
    case .anyAuthenticated: client != nil
    case .clients(let clients): client.map(clients.contains) ?? false
    }
  }

  /// The Gemini `Model` object.
  public static func modelJSON(_ model: ModelInfo) -> JSONValue {
    .object([
      "name": .string("models/" + model.name), "version": "1", "displayName": .string(model.name),
      "description": .string("served by louter"),
      "inputTokenLimit": .int(Int64(model.limits.input)), "outputTokenLimit": .int(Int64(model.limits.output)),
      "supportedGenerationMethods": .array(model.methods.map { .string($0.rawValue) }),
    ])
  }

  /// The `GET models` page: `pageSize` (default 50, at most 1000) and an opaque offset `pageToken`.
  public static func listJSON(_ models: [ModelInfo], pageSize: Int?, pageToken: String?) -> JSONValue {
    let size = min(max(pageSize ?? 50, 1), 1000)
    let start = pageToken.flatMap { Int($0) }.map { min(max($0, 0), models.count) } ?? 0
    let end = min(start + size, models.count)
    return .object([
      "models": .array(models[start..<end].map(modelJSON)),
      "nextPageToken": end < models.count ? .string(String(end)) : nil,
    ])
  }
}
