public import RouteCompiler
public import RouteSpec

/// Answers `GET models` and `GET models/{m}` from the route table: the models a client may call.
public enum ModelCatalog {
  /// The model names this client may call: exact names its forwarding routes match, and the names
  /// that backends list in `models` and a forwarding route would send to them.
  public static func models(for client: Int?, table: RouteTable) -> [String] {
    var names: [String] = []
    var seen: Set<String> = []
    func add(_ name: String) {
      if seen.insert(name).inserted { names.append(name) }
    }
    for route in table.routes {
      guard case .forward(let forward) = route.action, admits(route.match.clients, client: client) else { continue }
      for case .exact(let name) in route.match.models { add(name) }
      for backend in forward.chain {
        for name in table.backends[backend].models
        where route.match.models.isEmpty || route.match.models.contains(where: { $0.matches(name) }) {
          add(name)
        }
      }
    }
    // Only names whose plan really forwards (an earlier deny may shadow a later route).
    return names.filter { name in
      if case .forward = table.plan(for: RequestFacts(client: client, model: name)) { return true }
      return false
    }.sorted()
  }

  static func admits(_ constraint: ClientConstraint, client: Int?) -> Bool {
    switch constraint {
    case .any: true
    case .anyAuthenticated: client != nil
    case .clients(let clients): client.map(clients.contains) ?? false
    }
  }

  /// The Gemini `Model` object for a name.
  public static func modelJSON(_ name: String) -> JSONValue {
    .object([
      "name": .string("models/" + name), "version": "1", "displayName": .string(name),
      "description": .string("served by louter"),
      "supportedGenerationMethods": [
        "generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents",
      ],
    ])
  }

  /// The `GET models` page: `pageSize` (default 50, at most 1000) and an opaque offset `pageToken`.
  public static func listJSON(_ names: [String], pageSize: Int?, pageToken: String?) -> JSONValue {
    let size = min(max(pageSize ?? 50, 1), 1000)
    let start = pageToken.flatMap { Int($0) }.map { min(max($0, 0), names.count) } ?? 0
    let end = min(start + size, names.count)
    return .object([
      "models": .array(names[start..<end].map(modelJSON)),
      "nextPageToken": end < names.count ? .string(String(end)) : nil,
    ])
  }
}
