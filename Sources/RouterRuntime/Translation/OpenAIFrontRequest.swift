public import RouteSpec

/// An OpenAI Chat Completions request read for a Gemini backend: the Gemini request body and what was lost.
public struct OpenAIFrontTranslation: Sendable, Equatable {
  /// The Gemini `generateContent` body (before route actions).
  public var body: JSONValue
  /// Fields dropped or approximated, for `x-louter-warning`.
  public var warnings: TranslationWarnings

  /// Creates a translation.
  public init(body: JSONValue, warnings: TranslationWarnings) {
    self.body = body
    self.warnings = warnings
  }
}

/// OpenAI Chat Completions request → Gemini `generateContent` request (docs/openai-front.md).
///
/// Fields with no Gemini equivalent are dropped and named in the warnings; fields whose loss would change
/// the answer (audio output, custom tools, file ids, legacy `functions`) are the client's 400.
public enum OpenAIFrontRequest {
  /// Members that only tune OpenAI's own service or bookkeeping: dropped, and named.
  static let droppedFields = [
    "logit_bias", "user", "safety_identifier", "metadata", "store", "service_tier", "prompt_cache_key",
    "prompt_cache_retention", "verbosity", "prediction", "web_search_options",
  ]
  /// Members whose loss would change the answer.
  static let refusedFields = ["audio", "functions", "function_call"]
  /// Members read below.
  static let mappedFields: Set<String> = [
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p",
    "seed", "presence_penalty", "frequency_penalty", "stop", "n", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "logprobs", "top_logprobs", "reasoning_effort", "modalities",
  ]
  /// The most stop sequences Gemini takes.
  static let maxStopSequences = 5

  /// Translates `body` for `model` (the model sent upstream, which picks the thinking knob).
  public static func translate(_ body: JSONValue, model: String) throws(GeminiRequestError) -> OpenAIFrontTranslation {
    guard case .object(let members) = body else { throw GeminiRequestError("the request body must be a JSON object") }
    var warnings = TranslationWarnings()
    for member in members {
      if refusedFields.contains(member.key), member.value != .null {
        throw GeminiRequestError("\(member.key): not available on a Gemini backend; use tools and tool_choice")
      }
      if !mappedFields.contains(member.key) { warnings.drop(member.key) }
    }
    if let modalities = body["modalities"]?.arrayValue, modalities.contains(where: { $0.stringValue != "text" }) {
      throw GeminiRequestError("modalities: only text output is available on a Gemini backend")
    }
    guard let messages = body["messages"]?.arrayValue, !messages.isEmpty else {
      throw GeminiRequestError("messages: a non-empty array is required")
    }
    var out: [JSONMember] = []
    let turns = try MessageReader.read(messages)
    out.append(JSONMember("contents", .array(turns.contents)))
    if !turns.system.isEmpty {
      out.append(JSONMember("systemInstruction", .object(["parts": .array(turns.system)])))
    }
    let tools = try self.tools(body, warnings: &warnings)
    if let declarations = tools.declarations {
      out.append(JSONMember("tools", [.object(["functionDeclarations": .array(declarations)])]))
    }
    if let config = tools.config { out.append(JSONMember("toolConfig", config)) }
    let generation = try generationConfig(body, model: model, warnings: &warnings)
    if !generation.isEmpty { out.append(JSONMember("generationConfig", .object(generation))) }
    return OpenAIFrontTranslation(body: .object(out), warnings: warnings)
  }

  // MARK: generation

  /// The `generationConfig` members for the request's sampling, length, stop, format and reasoning fields.
  static func generationConfig(_ body: JSONValue, model: String, warnings: inout TranslationWarnings)
    throws(GeminiRequestError) -> [JSONMember]
  {
    var config: [JSONMember] = []
    let tokens = body["max_completion_tokens"].flatMap { $0 == .null ? nil : $0 } ?? body["max_tokens"]
    if let tokens, tokens != .null {
      guard let count = tokens.integer(in: 1...Int64(Int32.max)) else {
        throw GeminiRequestError("max_completion_tokens: must be a whole number from 1 to \(Int32.max)")
      }
      config.append(JSONMember("maxOutputTokens", .int(count)))
    }
    for (name, field) in [
      ("temperature", "temperature"), ("top_p", "topP"), ("presence_penalty", "presencePenalty"),
      ("frequency_penalty", "frequencyPenalty"),
    ] {
      guard let value = body[name], value != .null else { continue }
      guard let number = value.doubleValue else { throw GeminiRequestError("\(name): must be a number") }
      config.append(JSONMember(field, .double(number)))
    }
    if let seed = body["seed"], seed != .null {
      guard let number = seed.integer(in: Int64(Int32.min)...Int64(Int32.max)) else {
        throw GeminiRequestError("seed: must be a whole number within 32 bits")
      }
      config.append(JSONMember("seed", .int(number)))
    }
    if let stop = body["stop"], stop != .null {
      let sequences: [JSONValue]
      switch stop {
      case .string: sequences = [stop]
      case .array(let values) where values.allSatisfy({ $0.stringValue != nil }): sequences = values
      default: throw GeminiRequestError("stop: must be a string or an array of strings")
      }
      guard sequences.count <= maxStopSequences else {
        throw GeminiRequestError("stop: Gemini takes at most \(maxStopSequences) stop sequences")
      }
      if !sequences.isEmpty { config.append(JSONMember("stopSequences", .array(sequences))) }
    }
    if let n = body["n"], n != .null {
      guard let count = n.integer(in: 1...8) else { throw GeminiRequestError("n: must be a whole number from 1 to 8") }
      if count > 1, body["stream"]?.boolValue == true {
        throw GeminiRequestError("n: more than one choice cannot be streamed from a Gemini backend")
      }
      if count > 1 { config.append(JSONMember("candidateCount", .int(count))) }
    }
    if body["logprobs"]?.boolValue == true {
      config.append(JSONMember("responseLogprobs", true))
      if let top = body["top_logprobs"]?.integer(in: 0...20) { config.append(JSONMember("logprobs", .int(top))) }
    }
    try responseFormat(body["response_format"], into: &config, warnings: &warnings)
    if let effort = body["reasoning_effort"]?.stringValue {
      guard let thinking = thinkingConfig(effort, model: model) else {
        throw GeminiRequestError("reasoning_effort: '\(effort)' is not one of none, minimal, low, medium, high, xhigh")
      }
      warnings.approximate("reasoning_effort")
      config.append(JSONMember("thinkingConfig", thinking))
    }
    return config
  }

  /// `response_format` → `responseMimeType` (+ `responseJsonSchema`) appended to `config`.
  static func responseFormat(
    _ format: JSONValue?, into config: inout [JSONMember], warnings: inout TranslationWarnings
  ) throws(GeminiRequestError) {
    guard let format, format != .null else { return }
    switch format["type"]?.stringValue {
    case "text"?:
      return
    case "json_object"?:
      config.append(JSONMember("responseMimeType", "application/json"))
    case "json_schema"?:
      guard let schema = format["json_schema"]?["schema"], case .object = schema else {
        throw GeminiRequestError("response_format.json_schema.schema: an object is required")
      }
      if format["json_schema"]?["strict"] != nil { warnings.drop("response_format.json_schema.strict") }
      config.append(JSONMember("responseMimeType", "application/json"))
      // The full JSON Schema form: `responseSchema` is an OpenAPI subset that refuses `additionalProperties`,
      // which the SDK's `.parse()` always sends.
      config.append(JSONMember("responseJsonSchema", schema))
    default:
      throw GeminiRequestError("response_format.type: must be text, json_object or json_schema")
    }
  }

  /// `reasoning_effort` → Gemini 3's `thinkingLevel`, or Gemini 2.5's `thinkingBudget`; nil for an unknown effort.
  static func thinkingConfig(_ effort: String, model: String) -> JSONValue? {
    let levels = [
      "none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH",
      "max": "HIGH",
    ]
    let budgets: [String: Int64] = [
      "none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576, "max": 24576,
    ]
    if model.contains("gemini-3") {
      return levels[effort].map { .object(["thinkingLevel": .string($0)]) }
    }
    return budgets[effort].map { .object(["thinkingBudget": .int($0)]) }
  }

  // MARK: tools

  /// Function declarations (only the allowed ones under `allowed_tools`) and the tool config.
  static func tools(_ body: JSONValue, warnings: inout TranslationWarnings) throws(GeminiRequestError) -> (
    declarations: [JSONValue]?, config: JSONValue?
  ) {
    var declarations: [JSONValue] = []
    for (index, tool) in (body["tools"]?.arrayValue ?? []).enumerated() {
      guard tool["type"]?.stringValue == "function", let function = tool["function"],
        let name = function["name"]?.stringValue
      else {
        throw GeminiRequestError("tools[\(index)]: only function tools are available on a Gemini backend")
      }
      var declaration: [JSONMember] = [JSONMember("name", .string(name))]
      if let description = function["description"]?.stringValue {
        declaration.append(JSONMember("description", .string(description)))
      }
      if let parameters = function["parameters"], parameters != .null {
        declaration.append(JSONMember("parametersJsonSchema", parameters))
      }
      if function["strict"] != nil { warnings.drop("tools[\(index)].function.strict") }
      declarations.append(.object(declaration))
    }
    if body["parallel_tool_calls"]?.boolValue == false { warnings.drop("parallel_tool_calls") }
    let config = try toolConfig(body["tool_choice"])
    if let choice = body["tool_choice"], choice["type"]?.stringValue == "allowed_tools" {
      // With AUTO Gemini takes no list of allowed names: it sees only the allowed declarations instead.
      let allowed = Set(
        (choice["allowed_tools"]?["tools"]?.arrayValue ?? []).compactMap { $0["function"]?["name"]?.stringValue })
      declarations = declarations.filter { $0["name"]?.stringValue.map(allowed.contains) ?? false }
    }
    return (declarations.isEmpty ? nil : declarations, config)
  }

  /// `tool_choice` → `toolConfig.functionCallingConfig`; nil when absent.
  static func toolConfig(_ choice: JSONValue?) throws(GeminiRequestError) -> JSONValue? {
    guard let choice, choice != .null else { return nil }
    func config(_ mode: String, names: [String]? = nil) -> JSONValue {
      var members: [JSONMember] = [JSONMember("mode", .string(mode))]
      if let names { members.append(JSONMember("allowedFunctionNames", .array(names.map { .string($0) }))) }
      return .object(["functionCallingConfig": .object(members)])
    }
    switch choice {
    case .string("none"): return config("NONE")
    case .string("auto"): return config("AUTO")
    case .string("required"): return config("ANY")
    case .object:
      switch choice["type"]?.stringValue {
      case "function"?:
        guard let name = choice["function"]?["name"]?.stringValue else {
          throw GeminiRequestError("tool_choice.function.name: required")
        }
        return config("ANY", names: [name])
      case "allowed_tools"?:
        let allowed = choice["allowed_tools"]
        let names = (allowed?["tools"]?.arrayValue ?? []).compactMap { $0["function"]?["name"]?.stringValue }
        let mode = allowed?["mode"]?.stringValue == "required" ? "ANY" : "AUTO"
        // `allowedFunctionNames` goes with ANY only.
        return config(mode, names: mode == "ANY" ? names : nil)
      default:
        throw GeminiRequestError("tool_choice: only function tools are available on a Gemini backend")
      }
    default:
      throw GeminiRequestError("tool_choice: must be none, auto, required or a function")
    }
  }
}

/// Chat messages → Gemini `contents` and the system parts.
struct MessageReader {
  var system: [JSONValue] = []
  var contents: [JSONValue] = []
  /// Tool calls of the history by id: their function name and their position in their turn.
  var calls: [String: (name: String, position: Int)] = [:]
  /// The function responses waiting to be written as one user turn, with their call positions.
  var pendingResponses: [(position: Int, part: JSONValue)] = []

  /// Reads every message; a history with no turn (only system messages) is a 400.
  static func read(_ messages: [JSONValue]) throws(GeminiRequestError) -> MessageReader {
    var reader = MessageReader()
    for (index, message) in messages.enumerated() { try reader.add(message, path: "messages[\(index)]") }
    reader.flushResponses()
    guard !reader.contents.isEmpty else {
      throw GeminiRequestError("messages: at least one user, assistant or tool message is required")
    }
    return reader
  }

  /// Adds one message; `path` names it in errors.
  mutating func add(_ message: JSONValue, path: String) throws(GeminiRequestError) {
    let role = message["role"]?.stringValue ?? ""
    if role != "tool" { flushResponses() }
    switch role {
    case "system", "developer":
      system += try Self.textParts(message["content"], path: path)
    case "user":
      append(role: "user", parts: try Self.userParts(message["content"], path: path))
    case "assistant":
      var parts = try Self.textParts(message["content"], path: path)
      for (position, call) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
        let callPath = "\(path).tool_calls[\(position)]"
        guard let id = call["id"]?.stringValue, let name = call["function"]?["name"]?.stringValue else {
          throw GeminiRequestError("\(callPath): id and function.name are required")
        }
        let arguments = call["function"]?["arguments"]?.stringValue ?? ""
        let args: JSONValue
        if arguments.isEmpty {
          args = .object([])
        } else if let parsed = try? JSONParser.parse(arguments), case .object = parsed {
          args = parsed
        } else {
          throw GeminiRequestError("\(callPath).function.arguments: must be a JSON object")
        }
        calls[id] = (name, position)
        var part: [JSONMember] = [JSONMember("functionCall", .object(["name": .string(name), "args": args]))]
        if let signature = call["extra_content"]?["google"]?["thought_signature"]?.stringValue {
          part.append(JSONMember("thoughtSignature", .string(signature)))
        }
        parts.append(.object(part))
      }
      append(role: "model", parts: parts)
    case "tool":
      guard let id = message["tool_call_id"]?.stringValue, let call = calls[id] else {
        throw GeminiRequestError("\(path).tool_call_id: does not name a tool call of an earlier assistant message")
      }
      let text = try Self.textParts(message["content"], path: path).compactMap { $0["text"]?.stringValue }.joined()
      let response: JSONValue
      if let parsed = try? JSONParser.parse(text), case .object = parsed {
        response = parsed
      } else {
        response = .object(["output": .string(text)])
      }
      pendingResponses.append(
        (call.position, .object(["functionResponse": .object(["name": .string(call.name), "response": response])])))
    default:
      throw GeminiRequestError("\(path).role: must be system, developer, user, assistant or tool")
    }
  }

  /// Consecutive tool messages become one user turn, in the order of the calls they answer (Gemini pairs by order).
  mutating func flushResponses() {
    guard !pendingResponses.isEmpty else { return }
    let parts = pendingResponses.sorted { $0.position < $1.position }.map(\.part)
    pendingResponses = []
    append(role: "user", parts: parts)
  }

  /// Adds a turn, merged with the previous one of the same role; a turn without parts is dropped.
  mutating func append(role: String, parts: [JSONValue]) {
    guard !parts.isEmpty else { return }
    if let last = contents.last, last["role"]?.stringValue == role, let earlier = last["parts"]?.arrayValue {
      contents[contents.count - 1] = .object(["role": .string(role), "parts": .array(earlier + parts)])
    } else {
      contents.append(.object(["role": .string(role), "parts": .array(parts)]))
    }
  }

  /// A string, null, or `text`/`refusal` parts as Gemini text parts.
  static func textParts(_ content: JSONValue?, path: String) throws(GeminiRequestError) -> [JSONValue] {
    switch content {
    case nil, .null?: return []
    case .string(let text)?: return text.isEmpty ? [] : [.object(["text": .string(text)])]
    case .array(let parts)?:
      var out: [JSONValue] = []
      for (index, part) in parts.enumerated() {
        guard let text = part["text"]?.stringValue ?? part["refusal"]?.stringValue else {
          throw GeminiRequestError("\(path).content[\(index)]: only text parts are allowed here")
        }
        out.append(.object(["text": .string(text)]))
      }
      return out
    default:
      throw GeminiRequestError("\(path).content: must be a string or an array of parts")
    }
  }

  /// A user message's content: text, images and audio.
  static func userParts(_ content: JSONValue?, path: String) throws(GeminiRequestError) -> [JSONValue] {
    guard case .array(let parts)? = content else { return try textParts(content, path: path) }
    var out: [JSONValue] = []
    for (index, part) in parts.enumerated() {
      let partPath = "\(path).content[\(index)]"
      switch part["type"]?.stringValue {
      case "text"?:
        guard let text = part["text"]?.stringValue else { throw GeminiRequestError("\(partPath).text: required") }
        out.append(.object(["text": .string(text)]))
      case "image_url"?:
        guard let url = part["image_url"]?["url"]?.stringValue ?? part["image_url"]?.stringValue else {
          throw GeminiRequestError("\(partPath).image_url.url: required")
        }
        out.append(try imagePart(url, path: partPath))
      case "input_audio"?:
        guard let data = part["input_audio"]?["data"]?.stringValue,
          let format = part["input_audio"]?["format"]?.stringValue, format == "wav" || format == "mp3"
        else {
          throw GeminiRequestError("\(partPath).input_audio: data and a format of wav or mp3 are required")
        }
        out.append(.object(["inlineData": .object(["mimeType": .string("audio/\(format)"), "data": .string(data)])]))
      default:
        throw GeminiRequestError("\(partPath).type: only text, image_url and input_audio parts are available")
      }
    }
    return out
  }

  /// `data:<mime>;base64,<data>` → `inlineData`; an http(s) URL → `fileData`.
  static func imagePart(_ url: String, path: String) throws(GeminiRequestError) -> JSONValue {
    if url.hasPrefix("data:") {
      let rest = url.dropFirst("data:".count)
      guard let comma = rest.firstIndex(of: ","), rest[..<comma].hasSuffix(";base64") else {
        throw GeminiRequestError("\(path).image_url.url: a data URL must be data:<mime>;base64,<data>")
      }
      let mime = String(rest[..<comma].dropLast(";base64".count))
      guard mime.hasPrefix("image/") else { throw GeminiRequestError("\(path).image_url.url: not an image type") }
      return .object([
        "inlineData": .object(["mimeType": .string(mime), "data": .string(String(rest[rest.index(after: comma)...]))])
      ])
    }
    guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
      throw GeminiRequestError("\(path).image_url.url: must be a data: URL or an http(s) URL")
    }
    let lower = url.lowercased().split(separator: "?").first.map(String.init) ?? ""
    let types = [
      ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif",
    ]
    guard let mime = types.first(where: { lower.hasSuffix($0.key) })?.value else {
      throw GeminiRequestError(
        "\(path).image_url.url: the image type cannot be told from the URL (.png, .jpg, .webp, .gif); send a data: URL")
    }
    return .object(["fileData": .object(["mimeType": .string(mime), "fileUri": .string(url)])])
  }
}
