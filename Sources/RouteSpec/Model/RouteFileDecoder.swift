/// The route language's version numbers.
public enum RouteLanguage {
  /// The highest `version` this louter understands.
  public static let highestVersion = 1
}

/// Decodes a spanned TOML tree into the route language, collecting every error.
public enum RouteFileDecoder {
  /// Decodes one file's tree.
  public static func decode(_ table: TOMLTable, file: SourceFile) -> (RouteFileSyntax, [Diagnostic]) {
    var syntax = RouteFileSyntax(file: file.id)
    var reader = TableReader(table, context: "the top level", shape: RouteFileShape.file)
    var diagnostics: [Diagnostic] = []
    if let version = reader.integer("version") {
      if version.value < 1 {
        // Not "too new": a version below 1 never existed, so upgrading louter would not help.
        diagnostics.append(
          Diagnostic(
            .invalidValue, "invalid route-file version \(version.value)",
            at: Label(version.span, "versions start at 1"),
            help: "write version = \(RouteLanguage.highestVersion)"))
      } else if version.value > RouteLanguage.highestVersion {
        diagnostics.append(
          Diagnostic(
            .unsupportedVersion, "unsupported route-file version \(version.value)",
            at: Label(version.span, "this louter understands version \(RouteLanguage.highestVersion) at most"),
            help: "write version = \(RouteLanguage.highestVersion), or upgrade louter"))
      } else {
        syntax.version = version
      }
    }
    if let server = reader.table("server") {
      syntax.server = decodeServer(server.table, span: headerSpan(table, "server", server.span), into: &diagnostics)
    }
    if let backends = reader.table("backends") {
      for entry in backends.table.entries {
        guard case .table(let body) = entry.value.kind else {
          diagnostics.append(notATable(entry, "[backends.\(entry.key)]"))
          continue
        }
        if entry.key.isEmpty { diagnostics.append(emptyName(entry, "[backends.NAME]")) }
        syntax.backends.append(decodeBackend(body, name: Spanned(entry.key, entry.keySpan), into: &diagnostics))
      }
    }
    if let clients = reader.table("clients") {
      for entry in clients.table.entries {
        guard case .table(let body) = entry.value.kind else {
          diagnostics.append(notATable(entry, "[clients.\(entry.key)]"))
          continue
        }
        if entry.key.isEmpty { diagnostics.append(emptyName(entry, "[clients.NAME]")) }
        syntax.clients.append(decodeClient(body, name: Spanned(entry.key, entry.keySpan), into: &diagnostics))
      }
    }
    for element in arrayOfTables(&reader, "routes", into: &diagnostics) {
      syntax.routes.append(decodeRoute(element.table, span: element.span, into: &diagnostics))
    }
    for element in arrayOfTables(&reader, "tests", into: &diagnostics) {
      syntax.tests.append(decodeTest(element.table, span: element.span, into: &diagnostics))
    }
    diagnostics += reader.finish()
    return (syntax, diagnostics)
  }

  private static func headerSpan(_ root: TOMLTable, _ key: String, _ fallback: SourceSpan) -> SourceSpan {
    root.entry(key)?.keySpan ?? fallback
  }

  /// `[backends.""]`: TOML allows an empty quoted key, but routes could not name it.
  private static func emptyName(_ entry: TOMLTable.Entry, _ what: String) -> Diagnostic {
    Diagnostic(
      .emptyValue, "the NAME in \(what) must not be empty", at: Label(entry.keySpan),
      help: "name it, e.g. \(what.replacingAll("NAME", with: "main"))")
  }

  private static func notATable(_ entry: TOMLTable.Entry, _ what: String) -> Diagnostic {
    Diagnostic(
      .wrongType, "expected a table for \(what), found \(entry.value.typeName)", at: Label(entry.value.span),
      help: "write it as a table: \(what)")
  }

  private static func arrayOfTables(_ reader: inout TableReader, _ key: String, into diagnostics: inout [Diagnostic])
    -> [(table: TOMLTable, span: SourceSpan)]
  {
    guard let entry = reader.entry(key) else { return [] }
    guard case .array(let values) = entry.value.kind else {
      diagnostics.append(
        Diagnostic(
          .wrongType, "expected [[\(key)]] (an array of tables), found \(entry.value.typeName)",
          at: Label(entry.value.span), help: "write each element as [[\(key)]]"))
      return []
    }
    var tables: [(TOMLTable, SourceSpan)] = []
    for value in values {
      guard case .table(let table) = value.kind else {
        diagnostics.append(
          Diagnostic(.wrongType, "expected a table in [[\(key)]], found \(value.typeName)", at: Label(value.span)))
        continue
      }
      tables.append((table, value.span))
    }
    return tables
  }

  // MARK: server

  static func decodeServer(_ table: TOMLTable, span: SourceSpan, into diagnostics: inout [Diagnostic]) -> ServerSyntax {
    var reader = TableReader(table, context: "[server]", shape: RouteFileShape.server)
    var server = ServerSyntax(span: span)
    if let listen = reader.string("listen") {
      if let address = ListenAddress.parse(listen.value) {
        server.listen = Spanned(address, listen.span)
      } else {
        reader.report(
          Diagnostic(
            .invalidAddress, "invalid listen address '\(listen.value)'", at: Label(listen.span, "expected HOST:PORT"),
            help: "write it as \"127.0.0.1:8080\", or \"[::1]:8080\" for IPv6"))
      }
    }
    server.auth = reader.choice("auth", AuthMode.self)
    if let entry = reader.entry("max_request_body") {
      server.maxRequestBody = ValueParsers.size(entry.value, key: "max_request_body", reader: &reader)
    }
    if let log = reader.string("request_log") {
      let target: RequestLogTarget =
        switch log.value {
        case "stdout": .stdout
        case "off": .off
        default: .file(log.value)
        }
      server.requestLog = Spanned(target, log.span)
    }
    for (key, path) in [
      ("header_timeout", \ServerSyntax.headerTimeout), ("body_timeout", \ServerSyntax.bodyTimeout),
      ("idle_timeout", \ServerSyntax.idleTimeout),
    ] {
      if let entry = reader.entry(key) {
        server[keyPath: path] = ValueParsers.duration(entry.value, key: key, reader: &reader)
      }
    }
    server.workers = reader.integer("workers")
    server.idlePoll = reader.bool("idle_poll")
    server.adminKeyHashes = decodeKeyDigests("admin_keys", environmentHelp: nil, reader: &reader)
    diagnostics += reader.finish()
    return server
  }

  // MARK: backends

  static func decodeBackend(_ table: TOMLTable, name: Spanned<String>, into diagnostics: inout [Diagnostic])
    -> BackendSyntax
  {
    var reader = TableReader(table, context: "[backends.\(name.value)]", shape: RouteFileShape.backend)
    var backend = BackendSyntax(name: name)
    backend.protocolName = reader.choice("protocol", BackendProtocol.self)
    if backend.protocolName == nil, table.entry("protocol") == nil {
      reader.report(
        Diagnostic(
          .missingField, "backend '\(name.value)' has no protocol", at: Label(name.span),
          help: "add protocol = \"openai\", \"gemini\" or \"echo\""))
    }
    if let url = reader.string("url") {
      if ValueParsers.isValidURL(url.value) {
        backend.url = url
      } else {
        reader.report(
          Diagnostic(
            .invalidURL, "invalid url '\(url.value)'", at: Label(url.span, "not an absolute http(s) URL"),
            help: "write the full base URL, e.g. \"https://api.openai.com/v1\""))
      }
    }
    if let key = reader.string("api_key") {
      if let template = ValueParsers.template(key, reader: &reader) {
        if template.isLiteral {
          reader.report(
            Diagnostic(
              .plainTextKey, "plain-text key in a route file", at: Label(key.span, "a secret written in the file"),
              notes: ["route files live in git: anyone who can read the repository can use this key"],
              help: "read it from the environment: api_key = \"${\(ValueParsers.variableName(for: name.value))}\""))
        } else {
          backend.apiKey = Spanned(template, key.span)
        }
      }
    }
    backend.flavor = reader.choice("flavor", BackendFlavor.self)
    backend.apiVersion = reader.string("api_version")
    if let headers = reader.table("headers") {
      for entry in headers.table.entries {
        guard case .string(let value) = entry.value.kind else {
          reader.wrongType("headers.\(entry.key)", expected: "a string", found: entry.value)
          continue
        }
        guard ValueParsers.isHeaderName(entry.key) else {
          reader.report(ValueParsers.badHeaderName(entry.key, at: entry.keySpan))
          continue
        }
        if let template = ValueParsers.template(Spanned(value, entry.value.span), reader: &reader) {
          backend.headers.append((Spanned(entry.key.lowercased(), entry.keySpan), Spanned(template, entry.value.span)))
        }
      }
    }
    for (key, path) in [
      ("connect_timeout", \BackendSyntax.connectTimeout), ("first_byte_timeout", \BackendSyntax.firstByteTimeout),
      ("stream_idle_timeout", \BackendSyntax.streamIdleTimeout), ("timeout", \BackendSyntax.timeout),
      ("pace", \BackendSyntax.pace),
    ] {
      if let entry = reader.entry(key) {
        backend[keyPath: path] = ValueParsers.duration(entry.value, key: key, reader: &reader)
      }
    }
    backend.maxConcurrency = reader.integer("max_concurrency")
    backend.forwardKey = reader.bool("forward_key")
    backend.maxTokensField = reader.string("max_tokens_field")
    backend.streamUsage = reader.bool("stream_usage")
    if let entry = reader.entry("models") {
      backend.models = decodeModels(entry.value, backend: name.value, reader: &reader)
    }
    diagnostics += reader.finish()
    return backend
  }

  /// `models = "a"` or `models = ["a", { name = "b", input_tokens = N, output_tokens = N }]`.
  static func decodeModels(_ value: TOMLValue, backend: String, reader: inout TableReader) -> [ModelEntrySyntax] {
    let elements: [TOMLValue]
    switch value.kind {
    case .string: elements = [value]
    case .array(let values): elements = values
    default:
      reader.wrongType(
        "models", expected: "a list of model names or { name, input_tokens, output_tokens }", found: value)
      return []
    }
    let context = "a model of [backends.\(backend)]"
    var models: [ModelEntrySyntax] = []
    for element in elements {
      let model: ModelEntrySyntax
      switch element.kind {
      case .string(let text):
        guard !text.isEmpty else {
          reader.report(
            Diagnostic(.emptyValue, "a model name in [backends.\(backend)] is empty", at: Label(element.span)))
          continue
        }
        model = ModelEntrySyntax(name: Spanned(text, element.span))
      case .table(let table):
        var entryReader = TableReader(table, context: context, shape: RouteFileShape.backendModel)
        let name = entryReader.string("name")
        let input = tokenLimit("input_tokens", context: context, reader: &entryReader)
        let output = tokenLimit("output_tokens", context: context, reader: &entryReader)
        if table.entry("name") == nil {
          entryReader.report(
            Diagnostic(
              .missingField, "\(context) has no 'name'", at: Label(element.span),
              help: "add name = \"...\", the model name clients call"))
        }
        for diagnostic in entryReader.finish() { reader.report(diagnostic) }
        guard let name else { continue }
        model = ModelEntrySyntax(name: name, inputTokens: input, outputTokens: output)
      default:
        reader.wrongType(
          "models", expected: "a model name or { name, input_tokens, output_tokens }", found: element)
        continue
      }
      // Two entries for one name would leave GET models/{m} to pick between two sets of limits.
      if let first = models.first(where: { $0.name.value == model.name.value }) {
        reader.report(
          Diagnostic(
            .duplicateName, "model '\(model.name.value)' is listed twice in [backends.\(backend)]",
            at: Label(model.name.span, "listed again here"), secondary: [Label(first.name.span, "first listed here")],
            help: "keep one entry, with its limits"))
        continue
      }
      models.append(model)
    }
    return models
  }

  /// `input_tokens` or `output_tokens`: an integer in `ModelEntrySyntax.limitRange`, or nil after reporting why not.
  private static func tokenLimit(_ key: String, context: String, reader: inout TableReader) -> Spanned<Int>? {
    guard let limit = reader.integer(key) else { return nil }
    guard ModelEntrySyntax.limitRange.contains(limit.value) else {
      reader.report(
        Diagnostic(
          .invalidValue, "'\(key)' in \(context) is out of range",
          at: Label(limit.span, "allowed: 1 to \(ModelEntrySyntax.limitRange.upperBound)"),
          help: "the Gemini API reports token limits as 32-bit counts of at least one token"))
      return nil
    }
    return limit
  }

  /// Reads `key` as `"sha256:<64 lowercase hex>"` digests (a string or a list) and returns the hex digits;
  /// reports a plain-text key, a malformed digest or a `${VAR}` instead. `environmentHelp` names the key that
  /// reads keys from the environment in the same table, if it has one.
  static func decodeKeyDigests(_ key: String, environmentHelp: String?, reader: inout TableReader)
    -> [Spanned<String>]
  {
    var digests: [Spanned<String>] = []
    for item in reader.strings(key)?.value ?? [] {
      if ValueParsers.isDigestLine(item.value) {
        digests.append(Spanned(String(item.value.dropFirst("sha256:".count)), item.span))
      } else if item.value.lowercased().hasPrefix("sha256:") {
        // A digest with the wrong shape is not a secret, so it is not L0214: hashing it again
        // would print the hash of a hash, which never matches any key.
        let lowered = item.value.lowercased()
        reader.report(
          Diagnostic(
            .invalidValue, "malformed key digest", at: Label(item.span, "expected sha256: and 64 lowercase hex digits"),
            help: ValueParsers.isDigestLine(lowered)
              ? "write the hex digits in lowercase: \"\(lowered)\""
              : "paste the line `louter keygen` prints"))
      } else if let variable = ValueParsers.wholeVariable(item.value) {
        // `keys = ["${CI_KEY}"]` asks for the environment, but digest lists hold only hashes.
        reader.report(
          Diagnostic(
            .invalidValue, "'\(key)' holds sha256 digests, not environment variables", at: Label(item.span),
            help: environmentHelp.map { "read the key from the environment with \($0) = [\"\(variable)\"]" }
              ?? "write the key's hash: \"sha256:...\" as `louter keygen` prints it"))
      } else {
        reader.report(
          Diagnostic(
            .plainTextKey, "plain-text key in a route file", at: Label(item.span, "a secret written in the file"),
            notes: ["route files live in git: store only the key's hash"],
            help: "write the key's hash instead: \"sha256:\(SHA256.hexDigest(item.value))\""))
      }
    }
    return digests
  }

  // MARK: clients

  static func decodeClient(_ table: TOMLTable, name: Spanned<String>, into diagnostics: inout [Diagnostic])
    -> ClientSyntax
  {
    var reader = TableReader(table, context: "[clients.\(name.value)]", shape: RouteFileShape.client)
    var client = ClientSyntax(name: name)
    client.keyHashes = decodeKeyDigests("keys", environmentHelp: "key_env", reader: &reader)
    for variable in reader.strings("key_env")?.value ?? [] {
      if ValueParsers.isVariableName(variable.value) {
        client.keyEnvironment.append(variable)
      } else {
        reader.report(
          Diagnostic(
            .invalidValue, "invalid environment variable name '\(variable.value)'", at: Label(variable.span),
            help: "use letters, digits and '_', not starting with a digit"))
      }
    }
    if let limits = reader.table("limits") {
      client.limits = decodeClientLimits(limits.table, span: limits.span, client: name.value, into: &diagnostics)
    }
    diagnostics += reader.finish()
    return client
  }

  /// `limits = { requests_per_minute = 60, ... }`: each value an integer in its kind's range; unknown keys refused.
  static func decodeClientLimits(
    _ table: TOMLTable, span: SourceSpan, client: String, into diagnostics: inout [Diagnostic]
  ) -> Spanned<[(kind: Spanned<ClientLimitKind>, value: Spanned<Int>)]> {
    let context = "the limits of [clients.\(client)]"
    var reader = TableReader(table, context: context, shape: RouteFileShape.clientLimits)
    var limits: [(kind: Spanned<ClientLimitKind>, value: Spanned<Int>)] = []
    for kind in ClientLimitKind.allCases {
      guard let value = reader.integer(kind.rawValue) else { continue }
      guard kind.range.contains(value.value) else {
        reader.report(
          Diagnostic(
            .invalidValue, "'\(kind.rawValue)' in \(context) is out of range",
            at: Label(value.span, "allowed: \(kind.range.lowerBound) to \(kind.range.upperBound)"),
            help: value.value < 1
              ? "a limit counts at least 1; leave '\(kind.rawValue)' out for no limit"
              : "no louter replica can serve that many: leave '\(kind.rawValue)' out for no limit"))
        continue
      }
      let keySpan = table.entry(kind.rawValue)?.keySpan ?? value.span
      limits.append((Spanned(kind, keySpan), value))
    }
    diagnostics += reader.finish()
    return Spanned(limits, span)
  }

  // MARK: routes

  static func decodeRoute(_ table: TOMLTable, span: SourceSpan, into diagnostics: inout [Diagnostic]) -> RouteSyntax {
    var reader = TableReader(table, context: "[[routes]]", shape: RouteFileShape.route)
    var route = RouteSyntax(span: span)
    route.name = reader.string("name")
    if let match = reader.table("match") {
      route.match = decodeMatch(match.table, span: match.span, into: &diagnostics)
    }
    if let prompt = reader.table("system_prompt") {
      route.systemPrompt = decodeSystemPrompt(prompt.table, span: prompt.span, into: &diagnostics)
    }
    route.model = reader.string("model")
    if let entry = reader.entry("backends") {
      (route.backends, route.backendGroups) = decodeChain(entry.value, reader: &reader)
    }
    if let entry = reader.entry("fallback_on") {
      if let list = ValueParsers.stringList(entry.value, key: "fallback_on", reader: &reader) {
        let triggers = list.value.compactMap {
          TableReader.choice($0, key: "fallback_on", FallbackTrigger.self, reader: &reader)
        }
        route.fallbackOn = Spanned(triggers, list.span)
      }
    }
    if let retry = reader.table("retry") {
      route.retry = decodeRetry(retry.table, span: retry.span, into: &diagnostics)
    }
    route.continueOnBreak = reader.bool("continue_on_break")
    if let generation = reader.table("generation") {
      route.generation = decodeGeneration(generation.table, into: &diagnostics)
    }
    route.deny = reader.string("deny")
    diagnostics += reader.finish()
    return route
  }

  /// `backends`: names and `{ balance, members }` groups, flattened into names with the groups beside them.
  static func decodeChain(_ value: TOMLValue, reader: inout TableReader) -> (
    Spanned<[Spanned<String>]>?, [BackendGroupSyntax]
  ) {
    guard case .array(let elements) = value.kind,
      elements.contains(where: { if case .table = $0.kind { true } else { false } })
    else {
      return (ValueParsers.stringList(value, key: "backends", reader: &reader), [])
    }
    var names: [Spanned<String>] = []
    var groups: [BackendGroupSyntax] = []
    for element in elements {
      guard case .table(let table) = element.kind else {
        if let single = ValueParsers.stringList(element, key: "backends", reader: &reader) { names += single.value }
        continue
      }
      var group = TableReader(table, context: "a backends group", shape: RouteFileShape.backendGroup)
      let balance = group.choice("balance", Balance.self)
      let first = names.count
      var weights: [Int] = []
      if let members = group.entry("members") {
        if case .table(let weighted) = members.value.kind {
          for member in weighted.entries {
            guard case .integer(let weight) = member.value.kind, (1...1_000_000).contains(weight) else {
              group.report(
                Diagnostic(
                  .invalidValue, "the weight of '\(member.key)' must be an integer from 1 to 1000000",
                  at: Label(member.value.span)))
              continue
            }
            names.append(Spanned(member.key, member.keySpan))
            weights.append(Int(weight))
          }
        } else if let list = ValueParsers.stringList(members.value, key: "members", reader: &group) {
          names += list.value
          weights += Array(repeating: 1, count: list.value.count)
        }
      }
      if names.count == first {
        group.report(
          Diagnostic(
            .emptyValue, "a backends group needs members", at: Label(element.span), help: "members = { a = 3, b = 1 }"))
      }
      for diagnostic in group.finish() { reader.report(diagnostic) }
      groups.append(
        BackendGroupSyntax(span: element.span, members: first..<names.count, weights: weights, balance: balance))
    }
    return (Spanned(names, value.span), groups)
  }

  /// `retry = { attempts, on, max_wait, backoff }`.
  static func decodeRetry(_ table: TOMLTable, span: SourceSpan, into diagnostics: inout [Diagnostic]) -> RetrySyntax {
    var reader = TableReader(table, context: "retry", shape: RouteFileShape.retry)
    var retry = RetrySyntax(span: span)
    retry.attempts = reader.integer("attempts")
    if let entry = reader.entry("on"), let list = ValueParsers.stringList(entry.value, key: "on", reader: &reader) {
      let triggers = list.value.compactMap { TableReader.choice($0, key: "on", FallbackTrigger.self, reader: &reader) }
      retry.on = Spanned(triggers, list.span)
    }
    for (key, path) in [("max_wait", \RetrySyntax.maxWait), ("backoff", \RetrySyntax.backoff)] {
      if let entry = reader.entry(key) {
        retry[keyPath: path] = ValueParsers.duration(entry.value, key: key, reader: &reader)
      }
    }
    diagnostics += reader.finish()
    return retry
  }

  /// `{ prepend | append | replace = "..." }`: exactly one mode.
  static func decodeSystemPrompt(_ table: TOMLTable, span: SourceSpan, into diagnostics: inout [Diagnostic])
    -> Spanned<SystemPromptAction>?
  {
    let modes = RouteFileShape.systemPromptModes
    var actions: [Spanned<SystemPromptAction>] = []
    for entry in table.entries {
      // The keys of this table are the mode itself, so a misspelt one is a wrong value
      // (L0206 with the allowed modes), not an unknown key.
      guard modes.contains(entry.key) else {
        diagnostics.append(
          Diagnostic(
            .invalidValue, "invalid system_prompt mode '\(entry.key)'", at: Label(entry.keySpan),
            help: TableReader.choiceHelp(for: entry.key, in: modes)))
        continue
      }
      guard case .string(let text) = entry.value.kind else {
        diagnostics.append(
          Diagnostic(
            .wrongType, "expected a string for '\(entry.key)' in system_prompt, found \(entry.value.typeName)",
            at: Label(entry.value.span)))
        continue
      }
      // `replace = ""` removes the caller's system prompt; an empty prepend or append does nothing.
      if text.isEmpty, entry.key != "replace" {
        diagnostics.append(
          Diagnostic(
            .emptyValue, "'\(entry.key)' in system_prompt must not be empty", at: Label(entry.value.span),
            help: "write the text to \(entry.key), or remove system_prompt"))
        continue
      }
      let action: SystemPromptAction =
        switch entry.key {
        case "prepend": .prepend(text)
        case "append": .append(text)
        default: .replace(text)
        }
      actions.append(Spanned(action, entry.value.span))
    }
    if actions.count > 1 {
      diagnostics.append(
        Diagnostic(
          .invalidValue, "system_prompt takes one of prepend, append or replace", at: Label(actions[1].span),
          secondary: [Label(actions[0].span, "already given here")]))
    } else if table.entries.isEmpty {
      diagnostics.append(
        Diagnostic(.emptyValue, "system_prompt is empty", at: Label(span), help: "write { prepend = \"...\" }"))
    }
    return actions.first
  }

  static func decodeGeneration(_ table: TOMLTable, into diagnostics: inout [Diagnostic])
    -> [(parameter: Spanned<GenerationParameter>, rule: Spanned<ParameterRule>)]
  {
    var rules: [(Spanned<GenerationParameter>, Spanned<ParameterRule>)] = []
    let allowed = GenerationParameter.allCases.map(\.rawValue)
    for entry in table.entries {
      guard let parameter = GenerationParameter(rawValue: entry.key) else {
        // The keys of `generation` name parameters, a closed set like an enum's values: L0206.
        diagnostics.append(
          Diagnostic(
            .invalidValue, "invalid generation parameter '\(entry.key)'", at: Label(entry.keySpan),
            help: TableReader.choiceHelp(for: entry.key, in: allowed)))
        continue
      }
      // A bare number is shorthand for { default = N }: `temperature = 0.2` reads as naturally as
      // the full table, and the common case needs no clamp.
      if case .float = entry.value.kind, parameter.isInteger {
        diagnostics.append(wholeNumberExpected("generation.\(entry.key)", found: entry.value))
        continue
      }
      if let number = ValueParsers.number(entry.value) {
        rules.append(
          (Spanned(parameter, entry.keySpan), Spanned(ParameterRule(defaultValue: number), entry.value.span)))
        continue
      }
      guard case .table(let body) = entry.value.kind else {
        diagnostics.append(
          Diagnostic(
            .wrongType, "expected { min, max, default } for generation.\(entry.key), found \(entry.value.typeName)",
            at: Label(entry.value.span)))
        continue
      }
      var reader = TableReader(body, context: "generation.\(entry.key)", shape: RouteFileShape.parameterRule)
      var rule = ParameterRule()
      for (key, path) in [
        ("min", \ParameterRule.min), ("max", \ParameterRule.max), ("default", \ParameterRule.defaultValue),
      ] {
        guard let value = reader.entry(key) else { continue }
        if case .float = value.value.kind, parameter.isInteger {
          reader.report(wholeNumberExpected("'\(key)' in generation.\(entry.key)", found: value.value))
        } else if let number = ValueParsers.number(value.value) {
          rule[keyPath: path] = number
        } else {
          reader.wrongType(key, expected: "a number", found: value.value)
        }
      }
      diagnostics += reader.finish()
      rules.append((Spanned(parameter, entry.keySpan), Spanned(rule, entry.value.span)))
    }
    return rules
  }

  private static func wholeNumberExpected(_ what: String, found value: TOMLValue) -> Diagnostic {
    Diagnostic(
      .wrongType, "expected an integer for \(what), found \(value.typeName)", at: Label(value.span),
      help: "this parameter counts tokens or candidates: write a whole number")
  }

  static func decodeMatch(_ table: TOMLTable, span: SourceSpan, into diagnostics: inout [Diagnostic]) -> MatchSyntax {
    var reader = TableReader(table, context: "match", shape: RouteFileShape.match)
    var match = MatchSyntax(span: span)
    match.clients = reader.strings("client", requireItems: true)?.value ?? []
    for model in reader.strings("model", requireItems: true)?.value ?? [] {
      if let problem = ValueParsers.globProblem(model.value) {
        reader.report(
          Diagnostic(
            .invalidGlob, "invalid model pattern '\(model.value)'", at: Label(model.span, problem),
            help: "use exact names or '*' wildcards, e.g. \"gemini-2.5-*\"; list alternatives: [\"a*\", \"b*\"]"))
      } else {
        match.models.append(model)
      }
    }
    match.keyPrefixes = reader.strings("key_prefix", requireItems: true)?.value ?? []
    match.stream = reader.bool("stream")
    match.tools = reader.bool("tools")
    match.images = reader.bool("images")
    match.front = reader.choice("front", Front.self)
    if let headers = reader.table("header") {
      match.headers = decodeHeaderMatches(headers.table, reader: &reader)
    }
    for endpoint in reader.strings("endpoint", requireItems: true)?.value ?? [] {
      if let value = TableReader.choice(endpoint, key: "endpoint", Endpoint.self, reader: &reader) {
        match.endpoints.append(value)
      }
    }
    diagnostics += reader.finish()
    return match
  }

  static func decodeHeaderMatches(_ table: TOMLTable, reader: inout TableReader)
    -> [(name: Spanned<String>, value: Spanned<String>)]
  {
    var headers: [(Spanned<String>, Spanned<String>)] = []
    for entry in table.entries {
      guard case .string(let value) = entry.value.kind else {
        reader.wrongType("header.\(entry.key)", expected: "a string", found: entry.value)
        continue
      }
      guard ValueParsers.isHeaderName(entry.key) else {
        reader.report(ValueParsers.badHeaderName(entry.key, at: entry.keySpan))
        continue
      }
      headers.append((Spanned(entry.key.lowercased(), entry.keySpan), Spanned(value, entry.value.span)))
    }
    return headers
  }

  // MARK: tests

  static func decodeTest(_ table: TOMLTable, span: SourceSpan, into diagnostics: inout [Diagnostic])
    -> RouteTestSyntax
  {
    var reader = TableReader(table, context: "[[tests]]", shape: RouteFileShape.test)
    var test = RouteTestSyntax(span: span)
    test.name = reader.string("name")
    if let request = reader.table("request") {
      var requestReader = TableReader(request.table, context: "request", shape: RouteFileShape.testRequest)
      var syntax = TestRequestSyntax(span: request.span)
      syntax.client = requestReader.string("client")
      syntax.model = requestReader.string("model")
      syntax.key = requestReader.string("key")
      syntax.stream = requestReader.bool("stream")
      syntax.tools = requestReader.bool("tools")
      syntax.images = requestReader.bool("images")
      if let headers = requestReader.table("headers") {
        syntax.headers = decodeHeaderMatches(headers.table, reader: &requestReader)
      }
      syntax.endpoint = requestReader.choice("endpoint", Endpoint.self)
      syntax.front = requestReader.choice("front", Front.self)
      diagnostics += requestReader.finish()
      test.request = syntax
    }
    if let expect = reader.table("expect") {
      var expectReader = TableReader(expect.table, context: "expect", shape: RouteFileShape.testExpectation)
      var syntax = TestExpectationSyntax(span: expect.span)
      syntax.route = expectReader.string("route")
      syntax.model = expectReader.string("model")
      if let entry = expectReader.entry("backends"),
        let list = ValueParsers.stringList(entry.value, key: "backends", reader: &expectReader)
      {
        syntax.backends = Spanned(list.value.map(\.value), list.span)
      }
      syntax.deny = expectReader.bool("deny")
      syntax.status = expectReader.integer("status")
      diagnostics += expectReader.finish()
      test.expect = syntax
    }
    // Only a key that is absent is missing: one of the wrong type already has its own error.
    if table.entry("request") == nil {
      reader.report(
        Diagnostic(
          .missingField, "[[tests]] has no 'request'", at: Label(span), help: "add request = { model = \"...\" }"))
    }
    if table.entry("expect") == nil {
      reader.report(
        Diagnostic(
          .missingField, "[[tests]] has no 'expect'", at: Label(span),
          help: "add expect = { route = \"...\" } (or backends, model, deny, status)"))
    }
    diagnostics += reader.finish()
    return test
  }
}
