import FoundationEssentials
import RouteCompiler
import RouteSpec

/// `louter diff OLD NEW`: which requests the new route set treats differently from the old one.
enum DiffCommand {
  static let usage = "louter diff OLD NEW [--requests FILE.jsonl] [--format human|json|github]"
  static let help = """
    Compile two route sets and show which requests change route, model, backend chain, actions
    (system prompt, generation, fallback_on), deny or status. Never touches the network.

    Usage: \(usage)

    Arguments:
      OLD, NEW             each a route folder (its *.toml files) or one route file

    Options:
      --requests FILE      JSON lines, one request per line, the fields `explain` takes:
                           {"model": "gemini-2.5-pro", "client": "team-a", "key": "gm_...",
                            "stream": true, "tools": false, "images": false,
                            "headers": {"x-team": "a"}, "endpoint": "generate"}
                           only model is required; without --requests, a covering set is
                           derived from both route sets (every client, key prefix, model and
                           model glob, flag, endpoint and header value the routes tell apart)
      --format FORMAT      human (default): a table; json: one object; github: first one GitHub
                           Actions annotation per changed request, at the NEW route that now
                           serves it (::warning when a forwarded request is now refused,
                           ::notice otherwise), then the Markdown table for a pull-request comment
      -h, --help           show this help

    Exit codes: 0 no request changes, 1 some request changes (or a route set does not compile),
    64 usage error.
    """

  /// Bounds the requests file: it is read whole.
  static let maxRequestsFileBytes = 64 << 20

  enum Format: String, CaseIterable {
    case human
    case json
    case github
  }

  static func run(_ rawArguments: [String]) -> Int32 {
    let arguments: Arguments
    do {
      arguments = try Arguments(rawArguments, values: ["--requests", "--format"], flags: ["-h", "--help"])
    } catch {
      return CommandLineInterface.usageError(error.message, usage)
    }
    if arguments.flag("-h") || arguments.flag("--help") {
      print(help)
      return 0
    }
    let formatName = arguments.value("--format") ?? "human"
    guard let format = Format(rawValue: formatName) else {
      let allowed = Format.allCases.map(\.rawValue)
      let hint = Suggestion.help(for: formatName, in: allowed).map { " (\($0))" } ?? ""
      return CommandLineInterface.usageError(
        "unknown format '\(formatName)'; use one of \(allowed.joined(separator: ", "))\(hint)", usage)
    }
    guard arguments.positional.count == 2 else {
      return CommandLineInterface.usageError(
        "diff takes two route sets, OLD and NEW; got \(arguments.positional.count)", usage)
    }
    var parsedRequests: [DiffRequest]?
    if let path = arguments.value("--requests") {
      do {
        parsedRequests = try DiffRequestsFile.read(path: path)
      } catch {
        return CommandLineInterface.usageError(error.message, usage)
      }
    }
    let old = ConfigurationLoad.load(paths: [arguments.positional[0]], mode: .check)
    let new = ConfigurationLoad.load(paths: [arguments.positional[1]], mode: .check)
    guard let oldTable = old.table, let newTable = new.table else {
      for load in [old, new] where load.table == nil {
        DiagnosticOutput(format: .human).print(load.diagnostics.filter { $0.severity == .error }, sources: load.sources)
      }
      return 1
    }
    let requests = parsedRequests ?? RouteDiff.coveringRequests(old: oldTable, new: newTable)
    let known = Set(oldTable.clients.map(\.name) + newTable.clients.map(\.name))
    for request in requests {
      if let client = request.client, !known.contains(client) {
        let hint = Suggestion.help(for: client, in: known.sorted()).map { " (\($0))" } ?? ""
        return CommandLineInterface.usageError("unknown client '\(client)' in --requests\(hint)", usage)
      }
    }
    let report = RouteDiff.compare(old: oldTable, new: newTable, requests: requests)
    let renderer = DiffRenderer(report: report)
    switch format {
    case .human: print(renderer.human(), terminator: "")
    case .json: print(renderer.json().serialized(pretty: true))
    case .github:
      print(renderer.annotations(newRoutes: newTable.routes, sources: new.sources), terminator: "")
      print(renderer.markdown(), terminator: "")
    }
    return report.changes.isEmpty ? 0 : 1
  }
}

/// Reads `--requests`: one JSON object per line; blank lines are skipped.
enum DiffRequestsFile {
  static let fields: Set<String> = ["model", "client", "key", "stream", "tools", "images", "headers", "endpoint"]

  static func read(path: String) throws(Arguments.Problem) -> [DiffRequest] {
    // One byte past the bound tells a file at the bound from a longer one.
    guard let data = StandardStream.readFile(path, limit: DiffCommand.maxRequestsFileBytes + 1) else {
      throw Arguments.Problem(message: "cannot read --requests file '\(path)'")
    }
    guard data.count <= DiffCommand.maxRequestsFileBytes else {
      throw Arguments.Problem(message: "--requests file '\(path)' is larger than 64 MiB")
    }
    return try parse(String(decoding: data, as: UTF8.self), path: path)
  }

  static func parse(_ text: String, path: String) throws(Arguments.Problem) -> [DiffRequest] {
    var requests: [DiffRequest] = []
    for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let trimmed = String(line.trimmingSpacesAndTabs)
      guard !trimmed.isEmpty else { continue }
      do {
        requests.append(try request(JSONParser.parse(trimmed)))
      } catch let error as JSONParseError {
        throw Arguments.Problem(message: "\(path):\(number + 1): invalid JSON: \(error)")
      } catch let error as Arguments.Problem {
        throw Arguments.Problem(message: "\(path):\(number + 1): \(error.message)")
      } catch {
        throw Arguments.Problem(message: "\(path):\(number + 1): \(error)")
      }
    }
    return requests
  }

  static func request(_ value: JSONValue) throws(Arguments.Problem) -> DiffRequest {
    guard let members = value.objectValue else { throw Arguments.Problem(message: "expected a JSON object") }
    for member in members where !fields.contains(member.key) {
      let hint = Suggestion.help(for: member.key, in: fields.sorted()).map { " (\($0))" } ?? ""
      throw Arguments.Problem(message: "unknown field '\(member.key)'\(hint)")
    }
    func string(_ key: String) throws(Arguments.Problem) -> String? {
      guard let field = value[key] else { return nil }
      guard let text = field.stringValue else { throw Arguments.Problem(message: "'\(key)' must be a string") }
      return text
    }
    func flag(_ key: String) throws(Arguments.Problem) -> Bool {
      guard let field = value[key] else { return false }
      guard let flag = field.boolValue else { throw Arguments.Problem(message: "'\(key)' must be true or false") }
      return flag
    }
    guard let model = try string("model"), !model.isEmpty else {
      throw Arguments.Problem(message: "missing 'model'")
    }
    var endpoint = Endpoint.generate
    if let name = try string("endpoint") {
      guard let parsed = Endpoint(rawValue: name) else {
        let allowed = Endpoint.allCases.map(\.rawValue)
        throw Arguments.Problem(message: "unknown endpoint '\(name)'; use one of \(allowed.joined(separator: ", "))")
      }
      endpoint = parsed
    }
    var headers: [DiffHeader] = []
    if let field = value["headers"] {
      guard let members = field.objectValue else {
        throw Arguments.Problem(message: "'headers' must be an object of strings")
      }
      for member in members {
        guard let text = member.value.stringValue else {
          throw Arguments.Problem(message: "header '\(member.key)' must be a string")
        }
        headers.append(DiffHeader(name: member.key, value: text))
      }
    }
    return DiffRequest(
      client: try string("client"), key: try string("key"), model: model, endpoint: endpoint,
      stream: try flag("stream"), tools: try flag("tools"), images: try flag("images"), headers: headers)
  }
}

/// Prints a `RouteDiffReport` as a table, JSON or Markdown.
struct DiffRenderer {
  let report: RouteDiffReport

  var summary: String {
    guard !report.changes.isEmpty else {
      return "no changes: \(report.evaluated) \(CheckCommand.plural(report.evaluated, "request")) evaluated"
    }
    var counts: [DiffAspect: Int] = [:]
    for change in report.changes {
      for aspect in change.aspects { counts[aspect, default: 0] += 1 }
    }
    let parts = DiffAspect.allCases.compactMap { aspect in counts[aspect].map { "\(aspect.rawValue) \($0)" } }
    return "\(report.changes.count) of \(report.evaluated) \(CheckCommand.plural(report.evaluated, "request")) "
      + "change (\(parts.joined(separator: ", ")))"
  }

  /// A key is shown by its first characters only: a `--requests` file may hold real keys.
  static func shownKey(_ key: String) -> String {
    key.count <= 8 ? key : String(key.prefix(8)) + "…"
  }

  static func describe(_ request: DiffRequest) -> String {
    var parts = [request.model, request.client.map { "client=\($0)" } ?? "anonymous"]
    if let key = request.key { parts.append("key=\(shownKey(key))") }
    if request.endpoint != .generate { parts.append("endpoint=\(request.endpoint.rawValue)") }
    if request.stream, request.endpoint != .stream { parts.append("stream") }
    if request.front != .gemini { parts.append("front=\(request.front.rawValue)") }
    if request.tools { parts.append("tools") }
    if request.images { parts.append("images") }
    parts += request.headers.map { "\($0.name)=\($0.value)" }
    return parts.joined(separator: " ")
  }

  static func describe(_ actions: DiffActions) -> String {
    var parts: [String] = []
    if let prompt = actions.systemPrompt { parts.append("system_prompt \(prompt.mode) \"\(prompt.text)\"") }
    for rule in actions.generation {
      var bounds: [String] = []
      if let low = rule.rule.min { bounds.append("min \(ExplanationRenderer.number(low))") }
      if let high = rule.rule.max { bounds.append("max \(ExplanationRenderer.number(high))") }
      if let value = rule.rule.defaultValue { bounds.append("default \(ExplanationRenderer.number(value))") }
      parts.append("\(rule.parameter.rawValue) \(bounds.joined(separator: " "))")
    }
    parts.append("fallback_on \(actions.fallbackOn.map(\.rawValue).joined(separator: ","))")
    parts.append("retry \(actions.retry.summary)")
    if !actions.continueOnBreak { parts.append("continue_on_break false") }
    if !actions.limits.isEmpty {
      parts.append("limits " + actions.limits.ordered.map { "\($0.kind.rawValue)=\($0.value)" }.joined(separator: ","))
    }
    for group in actions.groups {
      parts.append("group \(group.balance.rawValue) weights \(group.weights.map(String.init).joined(separator: ":"))")
    }
    return parts.joined(separator: "; ")
  }

  /// One outcome in a line; the actions only when they are part of what changed.
  static func describe(_ outcome: DiffOutcome, actions showActions: Bool) -> String {
    switch outcome {
    case .rejected(let status):
      return status == 403 ? "403 key required" : "\(status) unknown key"
    case .noRoute:
      return "404 no route"
    case .denied(let route, let message):
      return "\(route.name): deny \"\(message)\""
    case .forwarded(let route, let model, let backends, let actions):
      var text = "\(route.name): \(model) -> \(backends.joined(separator: ", "))"
      if showActions { text += " [\(describe(actions))]" }
      return text
    }
  }

  func rows() -> [[String]] {
    report.changes.map { change in
      let actions = change.aspects.contains(.actions)
      return [
        Self.describe(change.request), Self.describe(change.old, actions: actions),
        Self.describe(change.new, actions: actions), change.aspects.map(\.rawValue).joined(separator: ", "),
      ]
    }
  }

  func human() -> String {
    guard !report.changes.isEmpty else { return summary + "\n" }
    let table = [["REQUEST", "OLD", "NEW", "CHANGED"]] + rows()
    var widths = [0, 0, 0, 0]
    for row in table {
      for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
    }
    var out = ""
    for row in table {
      let cells = row.enumerated().map { column, cell in
        column == row.count - 1 ? cell : cell.padded(toWidth: widths[column])
      }
      out += cells.joined(separator: "  ") + "\n"
    }
    return out + "\n" + summary + "\n"
  }

  func markdown() -> String {
    var out = "### louter diff: \(summary)\n"
    guard !report.changes.isEmpty else { return out }
    out += "\n| request | old | new | changed |\n|---|---|---|---|\n"
    for row in rows() {
      out += "| " + row.map(Self.markdownCell).joined(separator: " | ") + " |\n"
    }
    return out
  }

  /// One GitHub Actions annotation line per change, at the span of the NEW route that now serves
  /// the request (no position when none does: 404 or a rejected key). `::warning` when a request
  /// forwarded before is now refused (deny, 404, rejected key), `::notice` otherwise.
  func annotations(newRoutes: [CompiledRoute], sources: SourceMap) -> String {
    let renderer = DiagnosticRenderer(sources: sources)
    var out = ""
    for change in report.changes {
      let refused = change.old.status == 200 && change.new.status != 200
      let span = change.new.route.flatMap { route in
        newRoutes.indices.contains(route.index) ? newRoutes[route.index].span : nil
      }
      let actions = change.aspects.contains(.actions)
      let message =
        "\(Self.describe(change.request))\nold: \(Self.describe(change.old, actions: actions))"
        + "\nnew: \(Self.describe(change.new, actions: actions))"
      let title = "louter diff: \(change.aspects.map(\.rawValue).joined(separator: ", ")) changed"
      out += renderer.githubAnnotation(refused ? .warning : .notice, at: span, title: title, message: message) + "\n"
    }
    return out
  }

  /// A table cell: `|` would end the cell and a newline the row.
  static func markdownCell(_ text: String) -> String {
    // By scalar: a CR LF pair is one Character, and each of its two line breaks becomes a space.
    var cell = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\\": cell += "\\\\"
      case "|": cell += "\\|"
      case "\n", "\r": cell += " "
      default: cell.unicodeScalars.append(scalar)
      }
    }
    return cell
  }

  /// The request as a `--requests` line would give it, so that changed requests can be fed back.
  static func json(_ request: DiffRequest) -> JSONValue {
    var members = [JSONMember("model", .string(request.model))]
    if let client = request.client { members.append(JSONMember("client", .string(client))) }
    if let key = request.key { members.append(JSONMember("key", .string(key))) }
    members.append(JSONMember("endpoint", .string(request.endpoint.rawValue)))
    if request.front != .gemini { members.append(JSONMember("front", .string(request.front.rawValue))) }
    members.append(JSONMember("stream", .bool(request.stream)))
    members.append(JSONMember("tools", .bool(request.tools)))
    members.append(JSONMember("images", .bool(request.images)))
    members.append(JSONMember("headers", .object(request.headers.map { JSONMember($0.name, .string($0.value)) })))
    return .object(members)
  }

  static func json(_ outcome: DiffOutcome) -> JSONValue {
    var members = [JSONMember("status", .int(Int64(outcome.status)))]
    if let route = outcome.route { members.append(JSONMember("route", .string(route.name))) }
    switch outcome {
    case .rejected, .noRoute:
      break
    case .denied(_, let message):
      members.append(JSONMember("deny", .string(message)))
    case .forwarded(_, let model, let backends, let actions):
      members.append(JSONMember("model", .string(model)))
      members.append(JSONMember("backends", .array(backends.map { .string($0) })))
      if let prompt = actions.systemPrompt {
        members.append(JSONMember("system_prompt", .object([JSONMember(prompt.mode, .string(prompt.text))])))
      }
      let generation = actions.generation.map { rule in
        var bounds: [JSONMember] = []
        if let low = rule.rule.min { bounds.append(JSONMember("min", .double(low))) }
        if let high = rule.rule.max { bounds.append(JSONMember("max", .double(high))) }
        if let value = rule.rule.defaultValue { bounds.append(JSONMember("default", .double(value))) }
        return JSONMember(rule.parameter.rawValue, .object(bounds))
      }
      members.append(JSONMember("generation", .object(generation)))
      members.append(JSONMember("fallback_on", .array(actions.fallbackOn.map { .string($0.rawValue) })))
      members.append(JSONMember("retry", actions.retry.json))
      members.append(JSONMember("continue_on_break", .bool(actions.continueOnBreak)))
      members.append(
        JSONMember(
          "limits", .object(actions.limits.ordered.map { JSONMember($0.kind.rawValue, .int(Int64($0.value))) })))
    }
    return .object(members)
  }

  func json() -> JSONValue {
    .object([
      JSONMember("evaluated", .int(Int64(report.evaluated))),
      JSONMember("changed", .int(Int64(report.changes.count))),
      JSONMember(
        "changes",
        .array(
          report.changes.map { change in
            .object([
              JSONMember("request", Self.json(change.request)), JSONMember("old", Self.json(change.old)),
              JSONMember("new", Self.json(change.new)),
              JSONMember("changed", .array(change.aspects.map { .string($0.rawValue) })),
            ])
          })),
    ])
  }
}
