public import RouteSpec

/// Whether the compiler runs for `check` (no secrets needed) or `serve` (every secret must resolve).
public enum CompileMode: Sendable {
  /// `louter check`: unset `${VAR}` is a warning.
  case check
  /// `louter serve`: unset `${VAR}` is an error.
  case serve
}

/// The result of compiling: a table when there were no errors, and every diagnostic.
public struct CompileResult: Sendable {
  /// The frozen table; nil when any error was found.
  public let table: RouteTable?
  /// Errors and warnings, sorted by location.
  public let diagnostics: [Diagnostic]
}

/// Turns decoded route files into a validated, frozen `RouteTable`.
///
/// Every check runs and contributes its diagnostics; the table is built only
/// when none of them is an error.
public enum RouteCompiler {
  /// The highest route-file `version` this louter understands.
  public static let highestRouteFileVersion = 1

  /// Defaults for backend fields the file leaves out.
  public enum Defaults {
    /// `connect_timeout`.
    public static let connectTimeout = DurationValue(milliseconds: 5_000)
    /// `first_byte_timeout`.
    public static let firstByteTimeout = DurationValue(milliseconds: 60_000)
    /// `stream_idle_timeout`.
    public static let streamIdleTimeout = DurationValue(milliseconds: 30_000)
    /// `timeout`.
    public static let timeout = DurationValue(milliseconds: 600_000)
    /// `max_concurrency`.
    public static let maxConcurrency = 256
    /// What `pace` (echo) may be, in milliseconds: from 1 ms to a minute.
    public static let paceRange: ClosedRange<Int64> = 1...60_000
    /// `max_request_body`: 20 MiB.
    public static let maxRequestBody = 20 * 1024 * 1024
    /// `[server] header_timeout`.
    public static let headerTimeout = DurationValue(milliseconds: 10_000)
    /// `[server] body_timeout`.
    public static let bodyTimeout = DurationValue(milliseconds: 60_000)
    /// `[server] idle_timeout`.
    public static let idleTimeout = DurationValue(milliseconds: 60_000)
    /// `retry.attempts` when a route has `retry` and leaves it out, and its accepted range.
    public static let retryAttempts = 1
    public static let retryAttemptRange = 0...5
    /// `retry.on`: a 429 is retried only when the backend says when (`Retry-After`).
    public static let retryOn: Set<FallbackTrigger> = [.connect, .serverError, .rateLimited]
    /// `retry.max_wait` and `retry.backoff`, and the range both accept.
    public static let retryMaxWait = DurationValue(milliseconds: 2_000)
    public static let retryBackoff = DurationValue(milliseconds: 250)
    public static let retryWaitRange = DurationValue(milliseconds: 0)...DurationValue(milliseconds: 60_000)
    /// `continue_on_break`: a broken text stream is rescued by the next backend unless the route says no.
    public static let continueOnBreak = true
    /// `[server] workers`: the accepted range (the default is one per core, decided at `serve`).
    public static let workerRange = 1...1024
    /// `listen`.
    public static let listen = ListenAddress(host: "127.0.0.1", port: 8080)

    /// The token limits of a model no `models` entry gives them for, by the protocol of the backend it goes to.
    ///
    /// louter cannot know the limits of the model behind a backend, so it reports those of the family the
    /// protocol usually serves: a gemini backend the current Gemini models (2.5 Pro and Flash: 1048576 in,
    /// 65536 out), an openai or echo backend GPT-4o's (128000 in, 16384 out). A client that sizes its prompt
    /// from them then neither reads 0 nor overruns a typical backend by much; exact limits go in `models`.
    public static func tokenLimits(for protocolName: BackendProtocol) -> TokenLimits {
      switch protocolName {
      case .gemini: TokenLimits(input: 1_048_576, output: 65_536)
      case .openai, .echo: TokenLimits(input: 128_000, output: 16_384)
      }
    }
  }

  /// Compiles `files` against `environment`.
  public static func compile(
    _ files: [RouteFileSyntax], sources: SourceMap, mode: CompileMode, environment: [String: String]
  ) -> CompileResult {
    var compiler = Compilation(files: files, sources: sources, mode: mode, environment: environment)
    let table = compiler.run()
    let diagnostics = compiler.diagnostics.sortedByLocation()
    return CompileResult(table: diagnostics.hasErrors ? nil : table, diagnostics: diagnostics)
  }
}

/// The state of one compilation: the definitions seen so far and the diagnostics collected.
struct Compilation {
  let files: [RouteFileSyntax]
  let sources: SourceMap
  let mode: CompileMode
  let environment: [String: String]
  var diagnostics: [Diagnostic] = []

  var backendSyntax: [BackendSyntax] = []
  var backendIndex: [String: Int] = [:]
  var clientSyntax: [ClientSyntax] = []
  var clientIndex: [String: Int] = [:]
  var usedBackends: Set<Int> = []
  var usedClients: Set<Int> = []

  init(files: [RouteFileSyntax], sources: SourceMap, mode: CompileMode, environment: [String: String]) {
    self.files = files
    self.sources = sources
    self.mode = mode
    self.environment = environment
  }

  mutating func run() -> RouteTable {
    let server = compileServer()
    collectDefinitions()
    let backends = backendSyntax.map { compileBackend($0) }
    let clients = clientSyntax.map { compileClient($0) }
    let auth = server.auth ?? (clientSyntax.isEmpty ? .none : .required)
    let routes = compileRoutes()
    checkReachability(routes)
    checkUnused(routes)
    let settings = ServerSettings(
      listen: server.listen ?? RouteCompiler.Defaults.listen, auth: auth,
      maxRequestBody: server.maxRequestBody ?? RouteCompiler.Defaults.maxRequestBody,
      requestLog: server.requestLog ?? .stdout,
      headerTimeout: server.headerTimeout ?? RouteCompiler.Defaults.headerTimeout,
      bodyTimeout: server.bodyTimeout ?? RouteCompiler.Defaults.bodyTimeout,
      idleTimeout: server.idleTimeout ?? RouteCompiler.Defaults.idleTimeout, workers: server.workers,
      idlePoll: server.idlePoll ?? false, adminKeyHashes: server.adminKeyHashes)
    var clientByKeyHash: [String: Int] = [:]
    for (index, client) in clients.enumerated() {
      for hash in client.keyHashes { clientByKeyHash[hash] = index }
    }
    var matchedHeaderNames: [String] = []
    for route in routes {
      for header in route.match.headers where !matchedHeaderNames.contains(header.name) {
        matchedHeaderNames.append(header.name)
      }
    }
    return RouteTable(
      backends: backends, clients: clients, routes: routes, server: settings,
      index: RouteIndex(routes: routes, clientCount: clients.count), clientByKeyHash: clientByKeyHash,
      backendIndex: backendIndex, clientIndex: clientIndex, matchedHeaderNames: matchedHeaderNames)
  }

  // MARK: server

  struct ServerParts {
    var listen: ListenAddress?
    var auth: AuthMode?
    var maxRequestBody: Int?
    var requestLog: RequestLogTarget?
    var headerTimeout: DurationValue?
    var bodyTimeout: DurationValue?
    var idleTimeout: DurationValue?
    var workers: Int?
    var idlePoll: Bool?
    var adminKeyHashes: [String] = []
  }

  mutating func compileServer() -> ServerParts {
    var parts = ServerParts()
    var first: ServerSyntax?
    for file in files {
      guard let server = file.server else { continue }
      if let first {
        diagnostics.append(.duplicateDefinition(kind: "[server]", name: "server", at: server.span, first: first.span))
        continue
      }
      first = server
      parts.listen = server.listen?.value
      parts.auth = server.auth?.value
      parts.maxRequestBody = server.maxRequestBody?.value
      parts.requestLog = server.requestLog?.value
      parts.headerTimeout = server.headerTimeout?.value
      parts.bodyTimeout = server.bodyTimeout?.value
      parts.idleTimeout = server.idleTimeout?.value
      parts.idlePoll = server.idlePoll?.value
      parts.adminKeyHashes = server.adminKeyHashes.map(\.value)
      if let workers = server.workers {
        if RouteCompiler.Defaults.workerRange.contains(workers.value) {
          parts.workers = workers.value
        } else {
          diagnostics.append(
            .outOfRange(.invalidValue, field: "workers", allowed: "1 to 1024", at: workers.span))
        }
      }
    }
    return parts
  }

  // MARK: names

  mutating func collectDefinitions() {
    for file in files {
      for backend in file.backends {
        if let existing = backendIndex[backend.name.value] {
          diagnostics.append(
            .duplicateDefinition(
              kind: "backend", name: backend.name.value, at: backend.name.span,
              first: backendSyntax[existing].name.span))
          continue
        }
        backendIndex[backend.name.value] = backendSyntax.count
        backendSyntax.append(backend)
      }
      for client in file.clients {
        if let existing = clientIndex[client.name.value] {
          diagnostics.append(
            .duplicateDefinition(
              kind: "client", name: client.name.value, at: client.name.span, first: clientSyntax[existing].name.span))
          continue
        }
        clientIndex[client.name.value] = clientSyntax.count
        clientSyntax.append(client)
      }
    }
  }

  // MARK: backends

  mutating func resolve(_ template: Spanned<TemplateString>, field: String) -> String? {
    switch template.value.resolve(environment) {
    case .success(let value): return value
    case .failure(let missing):
      diagnostics.append(.unsetVariable(missing.name, field: field, at: template.span, mode: mode))
      return nil
    }
  }

  mutating func compileBackend(_ syntax: BackendSyntax) -> CompiledBackend {
    let protocolName = syntax.protocolName?.value ?? .echo
    let name = syntax.name.value
    func notFor(_ field: String, _ span: SourceSpan) -> Diagnostic {
      .fieldNotForProtocol(field: field, protocolName: protocolName, backend: name, at: span)
    }
    if protocolName == .echo {
      if let url = syntax.url { diagnostics.append(notFor("url", url.span)) }
      if let key = syntax.apiKey { diagnostics.append(notFor("api_key", key.span)) }
      if let forward = syntax.forwardKey, forward.value {
        diagnostics.append(.forwardKeyOnEcho(backend: name, at: forward.span))
      }
    } else if let pace = syntax.pace {
      diagnostics.append(notFor("pace", pace.span))
    }
    if protocolName != .echo, syntax.url == nil, syntax.protocolName != nil {
      diagnostics.append(.missingURL(backend: name, protocolName: protocolName, at: syntax.name.span))
    }
    if protocolName != .openai {
      if let flavor = syntax.flavor { diagnostics.append(notFor("flavor", flavor.span)) }
      if let field = syntax.maxTokensField { diagnostics.append(notFor("max_tokens_field", field.span)) }
      if let usage = syntax.streamUsage { diagnostics.append(notFor("stream_usage", usage.span)) }
    }
    let flavor = syntax.flavor?.value ?? .openai
    if let apiVersion = syntax.apiVersion, flavor != .azure {
      diagnostics.append(.apiVersionWithoutAzure(backend: name, at: apiVersion.span))
    }
    if flavor == .azure, syntax.apiVersion == nil, let flavorSpan = syntax.flavor?.span {
      diagnostics.append(.azureWithoutAPIVersion(backend: name, at: flavorSpan))
    }
    if let url = syntax.url, syntax.apiKey != nil, Self.isClearTextToRemoteHost(url.value) {
      diagnostics.append(.keyInClearText(backend: name, at: url.span))
    }
    let timeouts = checkTimeouts(syntax)
    var apiKey: String?
    if let key = syntax.apiKey { apiKey = resolve(key, field: "api_key") }
    var headers: [(name: String, value: String)] = []
    for header in syntax.headers {
      if let value = resolve(header.value, field: "headers.\(header.name.value)") {
        headers.append((header.name.value, value))
      }
    }
    if let concurrency = syntax.maxConcurrency, concurrency.value < 1 || concurrency.value > 1_000_000 {
      diagnostics.append(
        .outOfRange(.invalidValue, field: "max_concurrency", allowed: "1 to 1000000", at: concurrency.span))
    }
    if let pace = syntax.pace, !RouteCompiler.Defaults.paceRange.contains(pace.value.milliseconds) {
      let range = RouteCompiler.Defaults.paceRange
      let low = DurationValue(milliseconds: range.lowerBound)
      let allowed = "\(low) to \(DurationValue(milliseconds: range.upperBound))"
      diagnostics.append(.outOfRange(.invalidValue, field: "pace", allowed: allowed, at: pace.span))
    }
    if let field = syntax.maxTokensField, !["max_tokens", "max_completion_tokens"].contains(field.value) {
      diagnostics.append(
        .invalidChoice(
          field: "max_tokens_field", value: field.value, allowed: ["max_tokens", "max_completion_tokens"],
          at: field.span))
    }
    return CompiledBackend(
      name: name, protocolName: protocolName, url: syntax.url?.value, apiKey: apiKey, hasAPIKey: syntax.apiKey != nil,
      flavor: flavor, apiVersion: syntax.apiVersion?.value, headers: headers,
      connectTimeout: timeouts.connect, firstByteTimeout: timeouts.firstByte, streamIdleTimeout: timeouts.idle,
      timeout: timeouts.total, maxConcurrency: syntax.maxConcurrency?.value ?? RouteCompiler.Defaults.maxConcurrency,
      forwardKey: syntax.forwardKey?.value ?? false,
      maxTokensField: syntax.maxTokensField?.value ?? (flavor == .azure ? "max_completion_tokens" : "max_tokens"),
      streamUsage: syntax.streamUsage?.value ?? true,
      pace: protocolName == .echo ? syntax.pace?.value : nil,
      models: syntax.models.map { model in
        let defaults = RouteCompiler.Defaults.tokenLimits(for: protocolName)
        return BackendModel(
          name: model.name.value,
          limits: TokenLimits(
            input: model.inputTokens?.value ?? defaults.input, output: model.outputTokens?.value ?? defaults.output))
      }, span: syntax.name.span)
  }

  mutating func checkTimeouts(_ syntax: BackendSyntax) -> (
    connect: DurationValue, firstByte: DurationValue, idle: DurationValue, total: DurationValue
  ) {
    let ranges: [(String, Spanned<DurationValue>?, ClosedRange<Int64>)] = [
      ("connect_timeout", syntax.connectTimeout, 1...300_000),
      ("first_byte_timeout", syntax.firstByteTimeout, 1...3_600_000),
      ("stream_idle_timeout", syntax.streamIdleTimeout, 1...3_600_000),
      ("timeout", syntax.timeout, 1...86_400_000),
    ]
    for (field, value, range) in ranges {
      guard let value, !range.contains(value.value.milliseconds) else { continue }
      let low = DurationValue(milliseconds: range.lowerBound)
      let high = DurationValue(milliseconds: range.upperBound)
      diagnostics.append(.outOfRange(.timeoutOutOfRange, field: field, allowed: "\(low) to \(high)", at: value.span))
    }
    let total = syntax.timeout?.value ?? RouteCompiler.Defaults.timeout
    let firstByte = syntax.firstByteTimeout?.value ?? min(RouteCompiler.Defaults.firstByteTimeout, total)
    if let written = syntax.firstByteTimeout, written.value > total {
      diagnostics.append(.firstByteAboveTimeout(firstByte: written, timeout: syntax.timeout))
    }
    return (
      syntax.connectTimeout?.value ?? RouteCompiler.Defaults.connectTimeout, firstByte,
      syntax.streamIdleTimeout?.value ?? RouteCompiler.Defaults.streamIdleTimeout, total
    )
  }

  /// True for `http://` URLs whose host is not loopback or a private address: a key would cross networks in clear.
  static func isClearTextToRemoteHost(_ url: String) -> Bool {
    guard url.lowercased().hasPrefix("http://") else { return false }
    let rest = url.dropFirst("http://".count)
    var host = String(rest.prefix { $0 != "/" && $0 != "?" })
    if let at = host.lastIndex(of: "@") { host = String(host[host.index(after: at)...]) }
    if host.hasPrefix("[") {
      host = String(host.dropFirst().prefix { $0 != "]" })
    } else if let colon = host.lastIndex(of: ":") {
      host = String(host[..<colon])
    }
    host = host.lowercased()
    if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host.hasSuffix(".local") { return false }
    if host.hasSuffix(".internal") || host.hasSuffix(".svc") || host.hasSuffix(".cluster.local") || !host.contains(".")
    {
      return false
    }
    let octets = host.split(separator: ".").compactMap { Int($0) }
    if octets.count == 4 {
      switch (octets[0], octets[1]) {
      case (127, _), (10, _), (192, 168), (169, 254): return false
      case (172, 16...31): return false
      default: return true
      }
    }
    return true
  }

  // MARK: clients

  mutating func compileClient(_ syntax: ClientSyntax) -> CompiledClient {
    var hashes = syntax.keyHashes.map { hash in
      hash.value.hasPrefix("sha256:") ? String(hash.value.dropFirst("sha256:".count)) : hash.value
    }
    for variable in syntax.keyEnvironment {
      if let key = environment[variable.value] {
        hashes.append(SHA256.hexDigest(key))
      } else {
        diagnostics.append(.unsetVariable(variable.value, field: "key_env", at: variable.span, mode: mode))
      }
    }
    return CompiledClient(
      name: syntax.name.value, keyHashes: hashes, limits: compileLimits(syntax), span: syntax.name.span)
  }

  /// The client's limits; warns about a request limit that a longer window's smaller limit always reaches
  /// first (windows are UTC-aligned, so each minute lies inside one hour and each hour inside one day).
  mutating func compileLimits(_ syntax: ClientSyntax) -> ClientLimits {
    let written = syntax.limits?.value ?? []
    let requests = written.filter { $0.kind.value.quantity == .requests }
    for limit in requests {
      let longer = requests.filter { other in
        guard let mine = limit.kind.value.window, let theirs = other.kind.value.window else { return false }
        return theirs.milliseconds > mine.milliseconds && other.value.value <= limit.value.value
      }
      if let tightest = longer.min(by: { $0.value.value < $1.value.value }) {
        diagnostics.append(.limitNeverApplies(limit, below: tightest, client: syntax.name.value))
      }
    }
    return ClientLimits(Dictionary(written.map { ($0.kind.value, $0.value.value) }, uniquingKeysWith: { $1 }))
  }
}
