import RouteSpec

// The compiler's messages (L03xx, and the name checks of L02xx), alphabetised.
// Messages are lowercase, without a trailing period, and make sense without their labels.
extension Diagnostic {
  static func apiVersionWithoutAzure(backend: String, at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .fieldNotForProtocol, "'api_version' is only used with flavor = \"azure\" (backend '\(backend)')",
      at: Label(span, "ignored without flavor = \"azure\""), help: "add flavor = \"azure\" or remove api_version")
  }

  static func azureWithoutAPIVersion(backend: String, at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .azureWithoutAPIVersion, "azure backend '\(backend)' has no api_version",
      at: Label(span, "Azure OpenAI needs ?api-version= on every call"),
      help: "add api_version = \"2024-10-21\" (or the version your resource supports)")
  }

  static func denyWithBackends(deny: SourceSpan, backends: SourceSpan) -> Diagnostic {
    Diagnostic(
      .denyWithBackends, "a route cannot both deny and forward",
      at: Label(backends, "these backends would never be used"),
      secondary: [Label(deny, "the route denies here")], help: "remove 'backends', or move the deny into its own route")
  }

  static func duplicateDefinition(kind: String, name: String, at span: SourceSpan, first: SourceSpan) -> Diagnostic {
    Diagnostic(
      .duplicateName, "\(kind) '\(name)' is defined more than once", at: Label(span, "defined again here"),
      secondary: [Label(first, "first defined here")],
      help: "names are shared by all files of a configuration: rename one")
  }

  static func emptyChain(at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .emptyChain, "the route's backend chain is empty", at: Label(span, "no backend to send the request to"),
      help: "name at least one backend, or use deny = \"...\" to refuse the request")
  }

  static func fieldNotForProtocol(field: String, protocolName: BackendProtocol, backend: String, at span: SourceSpan)
    -> Diagnostic
  {
    Diagnostic(
      .fieldNotForProtocol, "'\(field)' does not apply to a \(protocolName.rawValue) backend ('\(backend)')",
      at: Label(span, "not used by protocol = \"\(protocolName.rawValue)\""), help: "remove '\(field)'")
  }

  static func firstByteAboveTimeout(firstByte: Spanned<DurationValue>, timeout: Spanned<DurationValue>?) -> Diagnostic {
    let total = timeout?.value ?? RouteCompiler.Defaults.timeout
    return Diagnostic(
      .firstByteAboveTimeout, "first_byte_timeout \(firstByte.value) is longer than the whole-request timeout \(total)",
      at: Label(firstByte.span, "can never fire"),
      secondary: timeout.map { [Label($0.span, "the whole request ends here")] } ?? [],
      help: "make first_byte_timeout shorter than timeout")
  }

  static func forwardKeyOnEcho(backend: String, at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .forwardKeyOnEcho, "forward_key has no effect on echo backend '\(backend)'",
      at: Label(span, "echo answers locally: there is nowhere to forward a key to"), help: "remove forward_key")
  }

  static func invalidChoice(field: String, value: String, allowed: [String], at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .invalidValue, "invalid \(field) '\(value)'", at: Label(span),
      help: Suggestion.help(for: value, in: allowed) ?? "use one of: \(allowed.joined(separator: ", "))")
  }

  static func invalidClamp(_ problem: String, at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .invalidClamp, "invalid generation rule: \(problem)", at: Label(span), help: "keep min <= default <= max")
  }

  static func limitNeverApplies(
    _ limit: (kind: Spanned<ClientLimitKind>, value: Spanned<Int>),
    below longer: (kind: Spanned<ClientLimitKind>, value: Spanned<Int>), client: String
  ) -> Diagnostic {
    let name = limit.kind.value.rawValue
    let other = longer.kind.value.rawValue
    let window = limit.kind.value.window?.rawValue ?? "window"
    return Diagnostic(
      .limitNeverApplies,
      "\(name) = \(limit.value.value) of client '\(client)' never applies: \(other) = \(longer.value.value) is reached first",
      at: Label(limit.value.span, "never refuses a request"),
      secondary: [Label(longer.value.span, "every \(window) lies inside this one")],
      help: "make \(name) lower than \(longer.value.value), or remove it")
  }

  static func keyInClearText(backend: String, at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .keyInClearText, "backend '\(backend)' sends its api_key over plain http to a non-local host",
      at: Label(span, "the key would travel in clear"), help: "use an https:// URL")
  }

  static func missingURL(backend: String, protocolName: BackendProtocol, at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .missingField, "\(protocolName.rawValue) backend '\(backend)' has no url", at: Label(span),
      help: protocolName == .gemini
        ? "add url = \"https://generativelanguage.googleapis.com\""
        : "add url = \"https://api.openai.com/v1\" (the base that /chat/completions is appended to)")
  }

  static func noCatchAll(last: CompiledRoute) -> Diagnostic {
    Diagnostic(
      .noCatchAll, "no route matches every request", at: Label(last.span, "the last route has a match"),
      notes: ["a request that no route matches gets 404 NOT_FOUND in the Gemini error shape"],
      help: "end with a route without 'match', e.g. [[routes]] name = \"default\" backends = [\"...\"]")
  }

  static func outOfRange(_ code: DiagnosticCode, field: String, allowed: String, at span: SourceSpan) -> Diagnostic {
    Diagnostic(code, "\(field) is out of range", at: Label(span, "allowed: \(allowed)"))
  }

  static func routeWithoutAction(at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .routeWithoutAction, "route neither forwards nor denies", at: Label(span),
      help: "add backends = [\"...\"] or deny = \"reason\"")
  }

  static func unknownBackend(_ name: Spanned<String>, known: [String]) -> Diagnostic {
    Diagnostic(
      .unknownBackend, "unknown backend '\(name.value)'", at: Label(name.span, "not defined in [backends]"),
      help: Suggestion.help(for: name.value, in: known)
        ?? (known.isEmpty
          ? "define it: [backends.\(name.value)]" : "defined backends: \(known.joined(separator: ", "))"))
  }

  static func unknownClient(_ name: Spanned<String>, known: [String]) -> Diagnostic {
    Diagnostic(
      .unknownClient, "unknown client '\(name.value)'", at: Label(name.span, "not defined in [clients]"),
      help: Suggestion.help(for: name.value, in: known)
        ?? (known.isEmpty ? "define it: [clients.\(name.value)]" : "defined clients: \(known.joined(separator: ", "))"))
  }

  static func unreachableRoute(_ route: CompiledRoute, shadowedBy earlier: CompiledRoute) -> Diagnostic {
    Diagnostic(
      .unreachableRoute, "route '\(route.name)' is unreachable", at: Label(route.span, "never matched"),
      secondary: [Label(earlier.span, "route '\(earlier.name)' matches every request it would")],
      help: "move '\(route.name)' above '\(earlier.name)', or narrow '\(earlier.name)'s match")
  }

  static func unsetVariable(_ name: String, field: String, at span: SourceSpan, mode: CompileMode) -> Diagnostic {
    Diagnostic(
      .unsetEnvironmentVariable, "environment variable '\(name)' is not set", at: Label(span, "needed by \(field)"),
      notes: mode == .check ? ["louter serve refuses to start until it is set"] : [],
      help: "export \(name)=... before starting louter", severity: mode == .serve ? .error : .warning)
  }

  static func unusedBackend(_ name: Spanned<String>) -> Diagnostic {
    Diagnostic(
      .unusedBackend, "backend '\(name.value)' is not used by any route", at: Label(name.span),
      help: "add it to a route's backends, or remove it")
  }

  static func unusedClient(_ name: Spanned<String>) -> Diagnostic {
    Diagnostic(
      .unusedClient, "client '\(name.value)' is not matched by any route", at: Label(name.span),
      notes: ["its requests get 404 NOT_FOUND"], help: "name it in a route's match.client, or remove it")
  }
}
