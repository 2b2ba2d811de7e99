/// The candidate routes for one client dimension, split by how they constrain the model.
struct ModelIndex: Sendable {
  /// Exact model name → route indices, ascending.
  var exact: [String: [Int32]] = [:]
  /// A glob's literal prefix (the text before its first `*`) → route indices, ascending.
  var globsByPrefix: [Substring: [Int32]] = [:]
  /// The distinct UTF-8 lengths of those prefixes, ascending: a lookup tries only these.
  var prefixLengths: [Int] = []
  /// Routes with no model constraint, or a glob that starts with `*`.
  var unconstrained: [Int32] = []
  /// The first bytes of the glob prefixes, a bit each: bytes 0–63 here, 64–127 in ``prefixStartsHigh``. A name
  /// that starts with none of them starts no prefix, and is looked up in ``globsByPrefix`` not at all (hashing
  /// a slice of the name showed in the profile of a translated request).
  var prefixStartsLow: UInt64 = 0
  /// The bits of first bytes 64–127, as ``prefixStartsLow``.
  var prefixStartsHigh: UInt64 = 0
  /// Whether some glob prefix has a byte that is not ASCII: those compare as Unicode text (canonical
  /// equivalence) and may equal a name of other bytes, so then every name is looked up.
  var prefixNotASCII = false

  mutating func insert(_ route: Int32, models: [ModelPattern]) {
    if models.isEmpty {
      unconstrained.append(route)
      return
    }
    for pattern in models {
      switch pattern {
      case .exact(let name):
        if exact[name]?.last != route { exact[name, default: []].append(route) }
      case .glob(let pieces, _):
        let prefix = pieces.first ?? ""
        if prefix.isEmpty {
          if unconstrained.last != route { unconstrained.append(route) }
          continue
        }
        let key = Substring(prefix)
        if globsByPrefix[key]?.last != route { globsByPrefix[key, default: []].append(route) }
        let length = prefix.utf8.count
        for byte in prefix.utf8 where byte >= 0x80 { prefixNotASCII = true }
        if let first = prefix.utf8.first {
          if first < 64 {
            prefixStartsLow |= 1 << UInt64(first)
          } else if first < 128 {
            prefixStartsHigh |= 1 << UInt64(first - 64)
          }
        }
        if let position = prefixLengths.firstIndex(where: { $0 >= length }) {
          if prefixLengths[position] != length { prefixLengths.insert(length, at: position) }
        } else {
          prefixLengths.append(length)
        }
      }
    }
  }

  /// Calls `body` with every candidate list for a model name (or a glob's literal prefix):
  /// routes naming it exactly, globs whose prefix starts it, and unconstrained routes.
  func forEachCandidateList(_ name: String, exactName: Bool = true, _ body: ([Int32]) -> Void) {
    if exactName, let list = exact[name] { body(list) }
    if !globsByPrefix.isEmpty, mayStartPrefix(name) {
      let utf8 = name.utf8
      let count = utf8.count
      for length in prefixLengths {
        if length > count { break }
        let end = utf8.index(utf8.startIndex, offsetBy: length)
        if let list = globsByPrefix[Substring(name[..<end])] { body(list) }
      }
    }
    body(unconstrained)
  }

  /// Whether `name` may start with some glob prefix: false only when every prefix is ASCII and `name` starts
  /// with an ASCII byte no prefix starts with (an ASCII prefix equals only a slice of the same bytes).
  func mayStartPrefix(_ name: String) -> Bool {
    guard !prefixNotASCII, let first = name.utf8.first else { return true }
    switch first {
    case 0..<64: return prefixStartsLow & (1 << UInt64(first)) != 0
    case 64..<128: return prefixStartsHigh & (1 << UInt64(first - 64)) != 0
    default: return true
    }
  }
}

/// Indexes routes by client, then by model, so that evaluation looks at a handful of candidates
/// instead of scanning the whole table. Candidate lists are sorted, so the smallest matching index
/// across all lists is the first match in file order, exactly what a linear scan finds.
struct RouteIndex: Sendable {
  /// Per client index: routes naming that client.
  var byClient: [ModelIndex]
  /// Routes with `client = "*"`.
  var anyAuthenticated = ModelIndex()
  /// Routes with no client constraint.
  var anyClient = ModelIndex()

  init(routes: [CompiledRoute], clientCount: Int) {
    byClient = Array(repeating: ModelIndex(), count: clientCount)
    for (position, route) in routes.enumerated() {
      add(Int32(position), match: route.match)
    }
  }

  mutating func add(_ route: Int32, match: CompiledMatch) {
    switch match.clients {
    case .any: anyClient.insert(route, models: match.models)
    case .anyAuthenticated: anyAuthenticated.insert(route, models: match.models)
    case .clients(let clients):
      for client in clients where client < byClient.count { byClient[client].insert(route, models: match.models) }
    }
  }

  func firstMatch(_ facts: RequestFacts, routes: [CompiledRoute]) -> Int? {
    var best = Int32.max
    // Scanned inside the routes' buffer: as a plain nested function, the scan copied the facts into its context
    // on every request (their strings and header pairs retained and released).
    routes.withUnsafeBufferPointer { routes in
      func scan(_ list: [Int32]) {
        for candidate in list {
          if candidate >= best { return }
          if routes[Int(candidate)].match.matches(facts) {
            best = candidate
            return
          }
        }
      }
      anyClient.forEachCandidateList(facts.model, scan)
      if let client = facts.client {
        anyAuthenticated.forEachCandidateList(facts.model, scan)
        if client < byClient.count { byClient[client].forEachCandidateList(facts.model, scan) }
      }
    }
    return best == Int32.max ? nil : Int(best)
  }
}
