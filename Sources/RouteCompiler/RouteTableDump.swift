public import RouteSpec

extension RouteTable {
  /// The compiled table as JSON in a stable order, with every secret redacted, for `louter dump`.
  public func dumpJSON() -> JSONValue {
    .object([
      "version": .int(Int64(RouteCompiler.highestRouteFileVersion)),
      "server": .object([
        "listen": .string(server.listen.description),
        "auth": .string(server.auth.rawValue),
        "max_request_body": .int(Int64(server.maxRequestBody)),
        "request_log": .string(server.requestLog.dumpText),
        "header_timeout": .string(server.headerTimeout.description),
        "body_timeout": .string(server.bodyTimeout.description),
        "idle_timeout": .string(server.idleTimeout.description),
        "workers": server.workers.map { .int(Int64($0)) } ?? .string("one per core"),
        "idle_poll": .bool(server.idlePoll),
        "admin_keys": .int(Int64(server.adminKeyHashes.count)),
      ]),
      "backends": .array(backends.map(\.dumpJSON)),
      "clients": .array(
        clients.map { client in
          .object([
            "name": .string(client.name), "keys": .int(Int64(client.keyHashes.count)),
            "limits": .object(client.limits.ordered.map { JSONMember($0.kind.rawValue, .int(Int64($0.value))) }),
          ])
        }),
      "routes": .array(routes.map { $0.dumpJSON(backends: backends, clients: clients) }),
    ])
  }
}

extension RequestLogTarget {
  var dumpText: String {
    switch self {
    case .stdout: "stdout"
    case .off: "off"
    case .file(let path): path
    }
  }
}

extension CompiledBackend {
  static let redacted: JSONValue = "<REDACTED>"

  var dumpJSON: JSONValue {
    .object([
      "name": .string(name),
      "protocol": .string(protocolName.rawValue),
      "url": url.map { .string($0) },
      "flavor": protocolName == .openai ? .string(flavor.rawValue) : nil,
      "api_version": apiVersion.map { .string($0) },
      "api_key": hasAPIKey ? Self.redacted : nil,
      // Header values often carry credentials: show names only.
      "headers": headers.isEmpty ? nil : .object(headers.map { JSONMember($0.name, Self.redacted) }),
      "connect_timeout": .string(connectTimeout.description),
      "first_byte_timeout": .string(firstByteTimeout.description),
      "stream_idle_timeout": .string(streamIdleTimeout.description),
      "timeout": .string(timeout.description),
      "max_concurrency": .int(Int64(maxConcurrency)),
      "forward_key": .bool(forwardKey),
      "max_tokens_field": protocolName == .openai ? .string(maxTokensField) : nil,
      "stream_usage": protocolName == .openai ? .bool(streamUsage) : nil,
      "pace": pace.map { .string($0.description) },
      "models": models.isEmpty
        ? nil
        : .array(
          models.map { model in
            .object([
              "name": .string(model.name), "input_tokens": .int(Int64(model.limits.input)),
              "output_tokens": .int(Int64(model.limits.output)),
            ])
          }),
    ])
  }
}

extension CompiledRoute {
  func dumpJSON(backends: [CompiledBackend], clients: [CompiledClient]) -> JSONValue {
    var members: [JSONMember] = [JSONMember("name", .string(name))]
    members.append(JSONMember("match", match.dumpJSON(clients: clients)))
    switch action {
    case .deny(let message):
      members.append(JSONMember("deny", .string(message)))
    case .forward(let forward):
      if let model = forward.model { members.append(JSONMember("model", .string(model))) }
      if let prompt = forward.systemPrompt {
        members.append(JSONMember("system_prompt", .object([JSONMember(prompt.mode, .string(prompt.text))])))
      }
      if !forward.generation.isEmpty {
        members.append(
          JSONMember(
            "generation",
            .object(
              forward.generation.map { rule in
                JSONMember(
                  rule.parameter.rawValue,
                  .object([
                    "min": rule.rule.min.map { .double($0) }, "max": rule.rule.max.map { .double($0) },
                    "default": rule.rule.defaultValue.map { .double($0) },
                  ]))
              })))
      }
      members.append(JSONMember("backends", .array(forward.chain.map { .string(backends[$0].name) })))
      let triggers = FallbackTrigger.allCases.filter(forward.fallbackOn.contains)
      members.append(JSONMember("fallback_on", .array(triggers.map { .string($0.rawValue) })))
      members.append(JSONMember("retry", forward.retry.json))
      members.append(JSONMember("continue_on_break", .bool(forward.continueOnBreak)))
      if !forward.groups.isEmpty {
        members.append(
          JSONMember(
            "groups",
            .array(forward.groups.map { $0.json(chain: forward.chain, backends: backends) })))
      }
    }
    return .object(members)
  }
}

extension CompiledMatch {
  func dumpJSON(clients clientList: [CompiledClient]) -> JSONValue {
    var members: [JSONMember] = []
    switch clients {
    case .any: break
    case .anyAuthenticated: members.append(JSONMember("client", ["*"]))
    case .clients(let indices):
      members.append(JSONMember("client", .array(indices.map { .string(clientList[$0].name) })))
    }
    if !models.isEmpty { members.append(JSONMember("model", .array(models.map { .string($0.description) }))) }
    if !keyPrefixes.isEmpty { members.append(JSONMember("key_prefix", .array(keyPrefixes.map { .string($0) }))) }
    if let stream { members.append(JSONMember("stream", .bool(stream))) }
    if let tools { members.append(JSONMember("tools", .bool(tools))) }
    if let images { members.append(JSONMember("images", .bool(images))) }
    if !headers.isEmpty {
      members.append(JSONMember("header", .object(headers.map { JSONMember($0.name, .string($0.value)) })))
    }
    if !endpoints.isEmpty { members.append(JSONMember("endpoint", .array(endpoints.map { .string($0.rawValue) }))) }
    if let front { members.append(JSONMember("front", .string(front.rawValue))) }
    return .object(members)
  }
}
