/// What one OpenAI-compatible backend accepts; steers the Gemini → OpenAI request translation.
///
/// Compat servers differ in small ways that turn into 400s (OpenAI rejects `top_k`, o-series models reject
/// `max_tokens`, old Azure api-versions reject `stream_options`), so these are per-backend settings.
public struct OpenAIDialect: Sendable, Equatable {
  /// Which request field carries `maxOutputTokens`.
  public enum MaxTokensField: String, Sendable, Equatable {
    /// `max_tokens`: the only one many compat servers know.
    case maxTokens = "max_tokens"
    /// `max_completion_tokens`: current OpenAI/Azure name, required by reasoning models.
    case maxCompletionTokens = "max_completion_tokens"
  }

  /// Field for `maxOutputTokens`.
  public var maxTokensField: MaxTokensField
  /// Whether to send `stream_options: {include_usage: true}` on streamed requests.
  public var supportsStreamOptions: Bool
  /// Whether `top_k` is accepted (vLLM, Ollama); otherwise `topK` is dropped with a warning.
  public var acceptsTopK: Bool
  /// Whether `reasoning_effort` is accepted; otherwise `thinkingConfig` is dropped with a warning.
  public var acceptsReasoningEffort: Bool
  /// Whether `n` > 1 is honoured; otherwise `candidateCount` > 1 is a 400.
  public var supportsN: Bool
  /// The most `stop` strings accepted (OpenAI: 4); nil = no limit.
  public var maxStopSequences: Int?
  /// Send the system instruction as a `developer` message instead of `system`.
  public var usesDeveloperRole: Bool
  /// Drop Gemini-only tools (googleSearch, codeExecution, …) with a warning instead of answering 400.
  public var dropsUnsupportedTools: Bool

  /// Creates a dialect; the defaults describe api.openai.com.
  public init(
    maxTokensField: MaxTokensField = .maxCompletionTokens, supportsStreamOptions: Bool = true,
    acceptsTopK: Bool = false, acceptsReasoningEffort: Bool = true, supportsN: Bool = true,
    maxStopSequences: Int? = 4, usesDeveloperRole: Bool = false, dropsUnsupportedTools: Bool = false
  ) {
    self.maxTokensField = maxTokensField
    self.supportsStreamOptions = supportsStreamOptions
    self.acceptsTopK = acceptsTopK
    self.acceptsReasoningEffort = acceptsReasoningEffort
    self.supportsN = supportsN
    self.maxStopSequences = maxStopSequences
    self.usesDeveloperRole = usesDeveloperRole
    self.dropsUnsupportedTools = dropsUnsupportedTools
  }

  /// api.openai.com.
  public static let openAI = OpenAIDialect()
  /// Azure OpenAI (api-version 2024-10-21 or later; older ones need `supportsStreamOptions = false`).
  public static let azure = OpenAIDialect()
  /// vLLM's OpenAI server.
  public static let vllm = OpenAIDialect(
    maxTokensField: .maxTokens, acceptsTopK: true, acceptsReasoningEffort: true, maxStopSequences: nil)
  /// Ollama's `/v1` endpoint.
  public static let ollama = OpenAIDialect(
    maxTokensField: .maxTokens, acceptsTopK: true, acceptsReasoningEffort: true, supportsN: false,
    maxStopSequences: nil)
  /// A conservative profile for unknown compat servers.
  public static let generic = OpenAIDialect(
    maxTokensField: .maxTokens, acceptsReasoningEffort: false, supportsN: false, maxStopSequences: nil)
}

/// Request or response fields that were dropped or approximated while translating.
///
/// The gateway sends ``headerValue`` as `x-louter-warning`.
public struct TranslationWarnings: Sendable, Equatable {
  /// Field paths that had no effect (e.g. `generationConfig.topK`).
  public private(set) var dropped: [String] = []
  /// Field paths that were mapped to something close but not equal (e.g. `thinkingConfig.thinkingBudget`).
  public private(set) var approximated: [String] = []

  /// No warnings.
  public init() {}

  /// Records a dropped field (once).
  public mutating func drop(_ path: String) {
    if !dropped.contains(path) { dropped.append(path) }
  }

  /// Records an approximated field (once).
  public mutating func approximate(_ path: String) {
    if !approximated.contains(path) { approximated.append(path) }
  }

  /// Adds another set of warnings.
  public mutating func merge(_ other: TranslationWarnings) {
    for path in other.dropped { drop(path) }
    for path in other.approximated { approximate(path) }
  }

  /// True when nothing was recorded.
  public var isEmpty: Bool { dropped.isEmpty && approximated.isEmpty }

  /// `dropped=a,b; approximated=c`, or nil when empty.
  public var headerValue: String? {
    var parts: [String] = []
    if !dropped.isEmpty { parts.append("dropped=" + dropped.map(Self.headerSafe).joined(separator: ",")) }
    if !approximated.isEmpty {
      parts.append("approximated=" + approximated.map(Self.headerSafe).joined(separator: ","))
    }
    return parts.isEmpty ? nil : parts.joined(separator: "; ")
  }

  // Unknown field names come from the client; they must not be able to break the header syntax.
  private static func headerSafe(_ path: String) -> String {
    String(
      String.UnicodeScalarView(
        path.unicodeScalars.map { scalar in
          (0x21..<0x7F).contains(scalar.value) && scalar != "," && scalar != ";" ? scalar : "?"
        }))
  }
}
