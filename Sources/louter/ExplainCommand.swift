import FoundationEssentials
import RouteCompiler
import RouteSpec

/// `louter explain --model M [--client C | --key K] ... [PATH]`.
enum ExplainCommand {
  static let usage =
    "louter explain --model M [--client C | --key K] [--stream] [--tools] [--images] [--header k=v] [--endpoint E] [--front F] [--format human|json] [PATH]"
  static let help = """
    Show which route a request takes and why: the route that matches, the match fields that held,
    the earlier routes that did not match and why, and the resulting plan.

    Usage: \(usage)

    Options:
      --model M            the requested model (required)
      --client C           evaluate as client C (by name)
      --key K              evaluate with key K (identifies the client and feeds key_prefix)
      --stream, --tools, --images   request features
      --header k=v         a request header (repeatable)
      --endpoint E         generate, stream, count_tokens, embed or list_models
      --front F            gemini (default) or openai: the API the client speaks
      --format F           human (default) or json
    """

  static func run(_ rawArguments: [String]) -> Int32 {
    let arguments: Arguments
    do {
      arguments = try Arguments(
        rawArguments, values: ["--model", "--client", "--key", "--header", "--endpoint", "--front", "--format"],
        flags: ["--stream", "--tools", "--images", "-h", "--help"])
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if arguments.flag("-h") || arguments.flag("--help") {
      print(help)
      return 0
    }
    guard let model = arguments.value("--model") else {
      return CommandLineInterface.usageError("missing --model", usage)
    }
    let format = arguments.value("--format") ?? "human"
    guard format == "human" || format == "json" else {
      return CommandLineInterface.usageError("unknown format '\(format)'; use human or json", usage)
    }
    if arguments.value("--client") != nil, arguments.value("--key") != nil {
      return CommandLineInterface.usageError("give --client or --key, not both", usage)
    }
    var endpoint: Endpoint?
    if let name = arguments.value("--endpoint") {
      guard let value = Endpoint(rawValue: name) else {
        let allowed = Endpoint.allCases.map(\.rawValue)
        return CommandLineInterface.usageError(
          "unknown endpoint '\(name)'; use one of \(allowed.joined(separator: ", "))", usage)
      }
      endpoint = value
    }
    var front = Front.gemini
    if let name = arguments.value("--front") {
      guard let value = Front(rawValue: name) else {
        return CommandLineInterface.usageError("unknown front '\(name)'; use gemini or openai", usage)
      }
      front = value
    }
    var headers: [(name: String, value: String)] = []
    for header in arguments.all("--header") {
      guard let equals = header.firstIndex(of: "=") else {
        return CommandLineInterface.usageError("--header takes name=value, got '\(header)'", usage)
      }
      headers.append((String(header[..<equals]).lowercased(), String(header[header.index(after: equals)...])))
    }
    let paths = arguments.positional.isEmpty ? ["routes"] : arguments.positional
    let load = ConfigurationLoad.load(paths: paths, mode: .check)
    guard let table = load.table else {
      DiagnosticOutput(format: .human).print(load.diagnostics.filter { $0.severity == .error }, sources: load.sources)
      return 1
    }
    var caller = RouteCaller.presentedKey
    if let client = arguments.value("--client") {
      guard let index = table.clientIndex[client] else {
        let hint = Suggestion.help(for: client, in: table.clients.map(\.name)).map { " (\($0))" } ?? ""
        return CommandLineInterface.usageError("unknown client '\(client)'\(hint)", usage)
      }
      caller = .client(index)
    }
    let stream = arguments.flag("--stream") || endpoint == .stream
    let facts = RequestFacts(
      key: arguments.value("--key"), model: model, endpoint: endpoint ?? (stream ? .stream : .generate),
      stream: stream, tools: arguments.flag("--tools"), images: arguments.flag("--images"), headers: headers,
      front: front)
    let explanation = table.explain(RouteQuery(caller: caller, facts: facts))
    let renderer = ExplanationRenderer(table: table, sources: load.sources, facts: facts)
    if format == "json" {
      print(renderer.json(explanation).serialized(pretty: true))
    } else {
      print(renderer.human(explanation), terminator: "")
    }
    return 0
  }
}

/// Prints an `Explanation` for people or as JSON.
struct ExplanationRenderer {
  let table: RouteTable
  let sources: SourceMap
  let facts: RequestFacts

  func location(_ span: SourceSpan) -> String {
    let file = sources[span.file]
    let location = file.location(of: span.start)
    return "\(file.path):\(location.line)"
  }

  func clientName(_ authentication: Authentication) -> String {
    switch authentication {
    case .anonymous: "anonymous"
    case .client(let index): table.clients[index].name
    case .missingKey: "none (no key presented)"
    case .invalidKey: "none (unknown key)"
    }
  }

  /// The `limits` of the authenticated client, which a forwarded request counts against.
  func limits(_ authentication: Authentication) -> ClientLimits {
    guard let index = authentication.clientIndex, table.clients.indices.contains(index) else { return ClientLimits() }
    return table.clients[index].limits
  }

  /// `requests_per_minute = 60, concurrent_streams = 4 (client team-a, per replica)`, or why none apply.
  func limitsLine(_ authentication: Authentication) -> String {
    guard authentication.clientIndex != nil else { return "none (only a named client has limits)" }
    let limits = limits(authentication)
    if limits.isEmpty { return "none (client \(clientName(authentication)) has no limits)" }
    let list = limits.ordered.map { "\($0.kind.rawValue) = \($0.value)" }.joined(separator: ", ")
    return "\(list) (client \(clientName(authentication)), counted per replica)"
  }

  /// Whole numbers without a fraction (`4096`, not `4096.0`).
  static func number(_ value: Double) -> String {
    value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }

  func human(_ explanation: Explanation) -> String {
    var out =
      "request: model '\(facts.model)', endpoint \(facts.endpoint.rawValue), client \(clientName(explanation.authentication))"
    if facts.stream { out += ", stream" }
    if facts.tools { out += ", tools" }
    if facts.images { out += ", images" }
    out += "\n"
    if case .unauthenticated(let failure) = explanation.decision {
      let reason =
        switch failure {
        case .missingKey: "PERMISSION_DENIED: a key is required"
        case .unknownKey: "INVALID_ARGUMENT: API key not valid"
        }
      return out + "result: \(explanation.decision.status) \(reason) (no route is evaluated)\n"
    }
    if !explanation.skipped.isEmpty {
      out += "skipped:\n"
      for (route, failure) in explanation.skipped {
        out += "  - \(table.routes[route].name) (\(location(table.routes[route].span))): \(failure) does not match\n"
      }
      let more = explanation.skippedCount - explanation.skipped.count
      if more > 0 { out += "  ... and \(more) more\n" }
    }
    guard let matched = explanation.matched else {
      return out + "result: 404 NOT_FOUND: no route matches\n"
    }
    let route = table.routes[matched]
    let held =
      explanation.heldFields.isEmpty
      ? "no match table: matches everything" : explanation.heldFields.joined(separator: ", ")
    out += "matched: \(route.name) (\(location(route.span))): \(held)\n"
    switch explanation.decision {
    case .denied(_, let message):
      out += "result: 403 PERMISSION_DENIED: \(message)\n"
    case .routed(let plan):
      out += "model: \(facts.model)" + (plan.model == facts.model ? " (unchanged)" : " -> \(plan.model)") + "\n"
      if let prompt = plan.systemPrompt { out += "system_prompt: \(prompt.mode) \"\(prompt.text)\"\n" }
      for rule in plan.generation {
        var parts: [String] = []
        if let low = rule.rule.min { parts.append("min \(Self.number(low))") }
        if let high = rule.rule.max { parts.append("max \(Self.number(high))") }
        if let value = rule.rule.defaultValue { parts.append("default \(Self.number(value))") }
        out += "generation.\(rule.parameter.rawValue): \(parts.joined(separator: ", "))\n"
      }
      var steps: [String] = []
      var position = 0
      while position < plan.chain.count {
        let backend = table.backends[plan.chain[position]]
        guard let group = plan.groups.first(where: { $0.positions.lowerBound == position }) else {
          steps.append("\(backend.name) (\(backend.protocolName.rawValue))")
          position += 1
          continue
        }
        let members = zip(group.positions, group.weights).map { member, weight in
          let backend = table.backends[plan.chain[member]]
          return "\(backend.name) (\(backend.protocolName.rawValue)) weight \(weight)"
        }
        steps.append("{ \(group.balance.rawValue): \(members.joined(separator: ", ")) }")
        position = group.positions.upperBound
      }
      out += "backends: \(steps.joined(separator: " -> "))\n"
      let triggers = FallbackTrigger.allCases.filter(plan.fallbackOn.contains).map(\.rawValue)
      out += "fallback_on: \(triggers.joined(separator: ", "))\n"
      out += "retry: \(plan.retry.summary)\n"
      out += "continue_on_break: \(plan.continueOnBreak)\n"
      out += "limits: \(limitsLine(explanation.authentication))\n"
    case .noRoute, .unauthenticated:
      out += "result: 404 NOT_FOUND\n"
    }
    return out
  }

  func json(_ explanation: Explanation) -> JSONValue {
    var members: [JSONMember] = [
      JSONMember(
        "request",
        .object([
          "model": .string(facts.model), "endpoint": .string(facts.endpoint.rawValue),
          "client": .string(clientName(explanation.authentication)), "stream": .bool(facts.stream),
          "tools": .bool(facts.tools), "images": .bool(facts.images),
        ])),
      JSONMember(
        "skipped",
        .array(
          explanation.skipped.map { route, failure in
            .object([
              "route": .string(table.routes[route].name), "at": .string(location(table.routes[route].span)),
              "failed": .string(failure.description),
            ])
          })),
      JSONMember("skipped_total", .int(Int64(explanation.skippedCount))),
    ]
    if case .unauthenticated = explanation.decision {
      members.append(JSONMember("status", .int(Int64(explanation.decision.status))))
      return .object(members)
    }
    if let matched = explanation.matched {
      members.append(
        JSONMember(
          "matched",
          .object([
            "route": .string(table.routes[matched].name), "at": .string(location(table.routes[matched].span)),
            "held": .array(explanation.heldFields.map { .string($0) }),
          ])))
    }
    switch explanation.decision {
    case .denied(_, let message):
      members.append(JSONMember("status", 403))
      members.append(JSONMember("deny", .string(message)))
    case .routed(let plan):
      members.append(JSONMember("status", 200))
      members.append(JSONMember("model", .string(plan.model)))
      if let prompt = plan.systemPrompt {
        members.append(JSONMember("system_prompt", .object([JSONMember(prompt.mode, .string(prompt.text))])))
      }
      members.append(JSONMember("backends", .array(plan.chain.map { .string(table.backends[$0].name) })))
      if !plan.groups.isEmpty {
        members.append(
          JSONMember("groups", .array(plan.groups.map { $0.json(chain: plan.chain, backends: table.backends) })))
      }
      members.append(
        JSONMember(
          "fallback_on",
          .array(FallbackTrigger.allCases.filter(plan.fallbackOn.contains).map { .string($0.rawValue) })))
      members.append(JSONMember("retry", plan.retry.json))
      members.append(JSONMember("continue_on_break", .bool(plan.continueOnBreak)))
      let limits = limits(explanation.authentication).ordered
      members.append(JSONMember("limits", .object(limits.map { JSONMember($0.kind.rawValue, .int(Int64($0.value))) })))
    case .noRoute, .unauthenticated:
      members.append(JSONMember("status", 404))
    }
    return .object(members)
  }
}
