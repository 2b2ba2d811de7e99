import RouteSpec

extension Compilation {
  mutating func compileRoutes() -> [CompiledRoute] {
    var routes: [CompiledRoute] = []
    var routeNames: [String: SourceSpan] = [:]
    for file in files {
      for syntax in file.routes {
        let position = routes.count + 1
        let name = syntax.name?.value ?? "route-\(position)"
        if let nameSpan = syntax.name?.span {
          if let first = routeNames[name] {
            diagnostics.append(.duplicateDefinition(kind: "route", name: name, at: nameSpan, first: first))
          } else {
            routeNames[name] = nameSpan
          }
        }
        let match = compileMatch(syntax.match)
        let action = compileAction(syntax)
        routes.append(
          CompiledRoute(
            name: name, hasExplicitName: syntax.name != nil, match: match, action: action, span: syntax.span))
      }
    }
    return routes
  }

  mutating func compileMatch(_ syntax: MatchSyntax?) -> CompiledMatch {
    guard let syntax else {
      return CompiledMatch(
        clients: .any, models: [], keyPrefixes: [], stream: nil, tools: nil, images: nil, headers: [], endpoints: [],
        front: nil)
    }
    var clients: ClientConstraint = .any
    if !syntax.clients.isEmpty {
      if syntax.clients.contains(where: { $0.value == "*" }) {
        clients = .anyAuthenticated
      } else {
        var indices: [Int] = []
        for client in syntax.clients {
          if let index = clientIndex[client.value] {
            usedClients.insert(index)
            if !indices.contains(index) { indices.append(index) }
          } else {
            diagnostics.append(.unknownClient(client, known: clientSyntax.map(\.name.value)))
          }
        }
        clients = .clients(indices)
      }
    }
    return CompiledMatch(
      clients: clients, models: syntax.models.map { ModelPattern($0.value) },
      keyPrefixes: syntax.keyPrefixes.map(\.value),
      stream: syntax.stream?.value, tools: syntax.tools?.value, images: syntax.images?.value,
      headers: syntax.headers.map { ($0.name.value.lowercased(), $0.value.value) },
      endpoints: syntax.endpoints.map(\.value), front: syntax.front?.value)
  }

  mutating func compileAction(_ syntax: RouteSyntax) -> RouteAction {
    if let deny = syntax.deny {
      if let backends = syntax.backends {
        diagnostics.append(.denyWithBackends(deny: deny.span, backends: backends.span))
      }
      return .deny(deny.value)
    }
    guard let backends = syntax.backends else {
      diagnostics.append(.routeWithoutAction(at: syntax.span))
      return .deny("")
    }
    if backends.value.isEmpty {
      diagnostics.append(.emptyChain(at: backends.span))
    }
    var chain: [Int] = []
    // Where each written name landed in the chain: an unknown name lands nowhere, and groups follow.
    var landed: [Int?] = []
    for backend in backends.value {
      if let index = backendIndex[backend.value] {
        usedBackends.insert(index)
        landed.append(chain.count)
        chain.append(index)
      } else {
        landed.append(nil)
        diagnostics.append(.unknownBackend(backend, known: backendSyntax.map(\.name.value)))
      }
    }
    var groups: [ChainGroup] = []
    for group in syntax.backendGroups {
      let members = group.members.compactMap { landed.indices.contains($0) ? landed[$0] : nil }
      let weights = group.members.enumerated().compactMap { offset, name in
        landed.indices.contains(name) && landed[name] != nil && group.weights.indices.contains(offset)
          ? group.weights[offset] : nil
      }
      guard let first = members.first, let last = members.last, weights.count == members.count else { continue }
      groups.append(
        ChainGroup(positions: first..<(last + 1), weights: weights, balance: group.balance?.value ?? .weighted))
    }
    var generation: [GenerationRule] = []
    for entry in syntax.generation {
      let rule = entry.rule.value
      if let low = rule.min, let high = rule.max, low > high {
        diagnostics.append(.invalidClamp("min \(low) is above max \(high)", at: entry.rule.span))
      } else if let value = rule.defaultValue,
        value < (rule.min ?? -Double.infinity) || value > (rule.max ?? Double.infinity)
      {
        diagnostics.append(.invalidClamp("default \(value) is outside min/max", at: entry.rule.span))
      }
      generation.append(GenerationRule(parameter: entry.parameter.value, rule: rule))
    }
    let fallbackOn = syntax.fallbackOn.map { Set($0.value.map(\.value)) } ?? FallbackTrigger.defaultFallbackOn
    return .forward(
      ForwardAction(
        chain: chain, model: syntax.model?.value, systemPrompt: syntax.systemPrompt?.value, generation: generation,
        fallbackOn: fallbackOn, retry: syntax.retry.map { compileRetry($0) } ?? .never,
        continueOnBreak: syntax.continueOnBreak?.value ?? RouteCompiler.Defaults.continueOnBreak, groups: groups))
  }

  /// A route's `retry` with its defaults; values out of range are reported and replaced by the default.
  mutating func compileRetry(_ syntax: RetrySyntax) -> RetryRule {
    let defaults = RouteCompiler.Defaults.self
    var attempts = defaults.retryAttempts
    if let written = syntax.attempts {
      if defaults.retryAttemptRange.contains(written.value) {
        attempts = written.value
      } else {
        diagnostics.append(.outOfRange(.invalidValue, field: "attempts", allowed: "0 to 5", at: written.span))
      }
    }
    var on = defaults.retryOn
    if let written = syntax.on {
      on = []
      for trigger in written.value {
        if FallbackTrigger.retryable.contains(trigger.value) {
          on.insert(trigger.value)
        } else {
          diagnostics.append(
            .outOfRange(
              .invalidValue, field: "retry.on",
              allowed: FallbackTrigger.retryable.map(\.rawValue).joined(separator: ", ")
                + " (a context-length refusal would fail the same way again)", at: trigger.span))
        }
      }
    }
    func duration(_ written: Spanned<DurationValue>?, _ field: String, default value: DurationValue) -> DurationValue {
      guard let written else { return value }
      guard defaults.retryWaitRange.contains(written.value) else {
        diagnostics.append(.outOfRange(.invalidValue, field: field, allowed: "0ms to 60s", at: written.span))
        return value
      }
      return written.value
    }
    return RetryRule(
      attempts: attempts, on: on, maxWait: duration(syntax.maxWait, "max_wait", default: defaults.retryMaxWait),
      backoff: duration(syntax.backoff, "backoff", default: defaults.retryBackoff))
  }

  // MARK: reachability

  mutating func checkReachability(_ routes: [CompiledRoute]) {
    // Compare each route only with earlier routes that could cover it: those sharing one of its
    // index buckets. This keeps the check near-linear for tables of thousands of routes.
    var shadowIndex = RouteIndex(routes: [], clientCount: clientSyntax.count)
    var processed: [CompiledRoute] = []
    processed.reserveCapacity(routes.count)
    for (position, route) in routes.enumerated() {
      if let shadow = shadowIndex.coveringRoute(of: route.match, routes: processed) {
        diagnostics.append(.unreachableRoute(route, shadowedBy: routes[shadow]))
      }
      shadowIndex.add(Int32(position), match: route.match)
      processed.append(route)
    }
    if !routes.contains(where: { $0.match.isCatchAll }), let last = routes.last {
      diagnostics.append(.noCatchAll(last: last))
    }
  }

  mutating func checkUnused(_ routes: [CompiledRoute]) {
    for (index, backend) in backendSyntax.enumerated() where !usedBackends.contains(index) {
      diagnostics.append(.unusedBackend(backend.name))
    }
    let anyClientRoute = routes.contains { !isSpecific($0.match.clients) }
    for (index, client) in clientSyntax.enumerated() where !usedClients.contains(index) {
      // A client that only catch-all routes serve is still in use: its key authenticates it.
      if anyClientRoute { continue }
      diagnostics.append(.unusedClient(client.name))
    }
  }

  private func isSpecific(_ constraint: ClientConstraint) -> Bool {
    if case .clients = constraint { return true }
    return false
  }
}

extension RouteIndex {
  /// The first earlier route whose match covers every request `match` accepts.
  func coveringRoute(of match: CompiledMatch, routes: [CompiledRoute]) -> Int? {
    var best = Int32.max
    func consider(_ list: [Int32]) {
      for candidate in list {
        if candidate >= best { return }
        if match.isCovered(by: routes[Int(candidate)].match) {
          best = candidate
          return
        }
      }
    }
    func scan(_ modelIndex: ModelIndex) {
      if match.models.isEmpty {
        consider(modelIndex.unconstrained)
        return
      }
      for pattern in match.models {
        if case .exact(let name) = pattern {
          modelIndex.forEachCandidateList(name, consider)
        } else {
          modelIndex.forEachCandidateList(pattern.literalPrefix, exactName: false, consider)
        }
      }
    }
    scan(anyClient)
    switch match.clients {
    case .any: break
    case .anyAuthenticated: scan(anyAuthenticated)
    case .clients(let clients):
      scan(anyAuthenticated)
      for client in clients where client < byClient.count { scan(byClient[client]) }
    }
    return best == Int32.max ? nil : Int(best)
  }
}

extension CompiledMatch {
  /// True when every request this match accepts, `other` accepts too (conservative).
  func isCovered(by other: CompiledMatch) -> Bool {
    switch (clients, other.clients) {
    case (_, .any): break
    case (.anyAuthenticated, .anyAuthenticated), (.clients, .anyAuthenticated): break
    case (.clients(let mine), .clients(let theirs)):
      guard !mine.isEmpty, mine.allSatisfy(theirs.contains) else { return false }
    default: return false
    }
    if !other.models.isEmpty {
      guard !models.isEmpty, models.allSatisfy({ pattern in other.models.contains { pattern.isCovered(by: $0) } })
      else {
        return false
      }
    }
    if !other.keyPrefixes.isEmpty {
      guard !keyPrefixes.isEmpty,
        keyPrefixes.allSatisfy({ prefix in other.keyPrefixes.contains { prefix.hasPrefix($0) } })
      else { return false }
    }
    if let flag = other.stream, flag != stream { return false }
    if let flag = other.tools, flag != tools { return false }
    if let flag = other.images, flag != images { return false }
    if let required = other.front, required != front { return false }
    for header in other.headers where !headers.contains(where: { $0 == header }) { return false }
    if !other.endpoints.isEmpty {
      guard !endpoints.isEmpty, endpoints.allSatisfy(other.endpoints.contains) else { return false }
    }
    return true
  }
}
