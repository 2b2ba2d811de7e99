public import RouteSpec

/// A translated `/chat/completions` request.
public struct OpenAIChatRequest: Sendable, Equatable {
  /// The request body, compact JSON.
  public var bodyBytes: [UInt8]
  /// Fields dropped or approximated on the way.
  public var warnings: TranslationWarnings
  /// Whether the client asked for thought parts (`thinkingConfig.includeThoughts`); the response side needs it.
  public var includeThoughts: Bool

  /// Creates a translated request.
  public init(bodyBytes: [UInt8], warnings: TranslationWarnings, includeThoughts: Bool) {
    self.bodyBytes = bodyBytes
    self.warnings = warnings
    self.includeThoughts = includeThoughts
  }
}

/// Gemini `GenerateContentRequest` → OpenAI `/chat/completions` request (protocols.md §6).
///
/// The body is written straight into bytes as it is translated: building it as a `JSONValue` tree, serialising
/// and freeing the tree cost about 4 % of a translated request.
public enum GeminiToOpenAI {
  /// Translates a decoded request.
  ///
  /// - Parameters:
  ///   - request: the decoded Gemini request.
  ///   - model: the backend model name (after route rewrite).
  ///   - dialect: what the backend accepts.
  ///   - stream: whether the client called `streamGenerateContent`.
  /// - Throws: a ``GeminiRequestError`` (400) when dropping something would change the answer's meaning.
  public static func translate(
    _ request: GeminiRequest, model: String, dialect: OpenAIDialect, stream: Bool
  ) throws(GeminiRequestError) -> OpenAIChatRequest {
    var warnings = TranslationWarnings()
    for path in request.unknownFields { warnings.drop(path) }
    for path in request.ignoredFields { warnings.drop(path) }
    if request.cachedContent != nil {
      throw GeminiRequestError(
        "cachedContent: cached contents are not available on this backend; send the full contents instead")
    }
    guard !request.contents.isEmpty else { throw GeminiRequestError("contents: must not be empty") }

    var out = JSONBytesBuilder(capacity: estimatedSize(request, model: model))
    out.beginObject()
    out.member("model", string: model)
    out.beginArray("messages")
    if let system = request.systemInstruction {
      var texts: [String] = []
      for (index, part) in system.parts.enumerated() {
        switch part.payload {
        case .text(let text): if !part.thought { texts.append(text) }
        case .empty: continue
        default:
          throw GeminiRequestError(
            "systemInstruction.parts[\(index)]: only text parts are supported in the system instruction")
        }
      }
      out.beginObject()
      out.member("role", string: dialect.usesDeveloperRole ? "developer" : "system")
      out.member("content", string: texts.joined(separator: "\n"))
      out.endObject()
    }
    var conversation = ConversationBuilder()
    // By index: each content is lent to the builder rather than copied (retained) by a `for … in` loop.
    for index in request.contents.indices {
      try conversation.add(request.contents[index], index: index, into: &out, warnings: &warnings)
    }
    out.endArray()

    try writeTools(request, dialect: dialect, into: &out, warnings: &warnings)
    let includeThoughts = try writeGenerationConfig(
      request.generationConfig, dialect: dialect, into: &out, warnings: &warnings)
    if stream {
      out.member("stream", bool: true)
      if dialect.supportsStreamOptions {
        out.beginObject("stream_options")
        out.member("include_usage", bool: true)
        out.endObject()
      }
    }
    out.endObject()
    return OpenAIChatRequest(bodyBytes: out.bytes, warnings: warnings, includeThoughts: includeThoughts)
  }

  /// About the body's size: the texts and media it copies, and room for the members around them, so that the
  /// buffer is allocated once for most requests.
  private static func estimatedSize(_ request: GeminiRequest, model: String) -> Int {
    var size = 512 + model.utf8.count
    // By index: a `for … in` loop copies (retains) every content and part it passes.
    for contentIndex in request.contents.indices {
      let parts = request.contents[contentIndex].parts
      for partIndex in parts.indices {
        size += 48
        switch parts[partIndex].payload {
        case .text(let text): size += text.utf8.count
        case .inlineData(_, let base64): size += base64.utf8.count
        default: size += 64
        }
      }
    }
    for part in request.systemInstruction?.parts ?? [] {
      if case .text(let text) = part.payload { size += text.utf8.count }
    }
    for tool in request.tools { size += 256 * tool.functionDeclarations.count }
    return size
  }

  /// What `tool_choice` says, before the tools are written (it follows them).
  private enum ToolChoice {
    /// `"auto"`, `"none"` or `"required"`.
    case mode(String)
    /// That one function.
    case function(String)
  }

  private static func writeTools(
    _ request: GeminiRequest, dialect: OpenAIDialect, into out: inout JSONBytesBuilder,
    warnings: inout TranslationWarnings
  ) throws(GeminiRequestError) {
    var declarations: [GeminiFunctionDeclaration] = []
    for (index, tool) in request.tools.enumerated() {
      for name in tool.builtInTools {
        if dialect.dropsUnsupportedTools {
          warnings.drop("tools[\(index)].\(name)")
        } else {
          throw GeminiRequestError(
            "tools[\(index)].\(name): this Gemini built-in tool is not available on OpenAI-compatible backends")
        }
      }
      declarations.append(contentsOf: tool.functionDeclarations)
    }
    var toolChoice: ToolChoice?
    if let config = request.toolConfig {
      if config.hasRetrievalConfig { warnings.drop("toolConfig.retrievalConfig") }
      switch config.mode {
      case "AUTO": toolChoice = .mode("auto")
      case "NONE": toolChoice = .mode("none")
      case "ANY":
        let allowed = config.allowedFunctionNames
        if !allowed.isEmpty {
          for name in allowed where !declarations.contains(where: { $0.name == name }) {
            throw GeminiRequestError(
              "toolConfig.functionCallingConfig.allowedFunctionNames: \"\(name)\" is not a declared function")
          }
          // Sending only the allowed tools keeps `required` portable (`allowed_tools` is OpenAI-only).
          declarations = declarations.filter { allowed.contains($0.name) }
        }
        if allowed.count == 1, let name = allowed.first {
          toolChoice = .function(name)
        } else {
          toolChoice = .mode("required")
        }
      case "VALIDATED":
        toolChoice = .mode("auto")
        warnings.approximate("toolConfig.functionCallingConfig.mode")
      case nil, "MODE_UNSPECIFIED": break
      case .some(let other):
        throw GeminiRequestError("toolConfig.functionCallingConfig.mode: unknown mode \"\(other)\"")
      }
    }
    guard !declarations.isEmpty else { return }
    out.beginArray("tools")
    for (index, declaration) in declarations.enumerated() {
      out.beginObject()
      out.member("type", string: "function")
      out.beginObject("function")
      out.member("name", string: declaration.name)
      if let description = declaration.description { out.member("description", string: description) }
      if let schema = declaration.parametersJsonSchema {
        out.member("parameters", value: schema)
      } else if let schema = declaration.parameters {
        out.member(
          "parameters",
          value: try SchemaConverter.jsonSchema(
            fromGemini: schema, path: "tools.functionDeclarations[\(index)].parameters"))
      } else {
        out.beginObject("parameters")
        out.member("type", string: "object")
        out.beginObject("properties")
        out.endObject()
        out.endObject()
      }
      if let behavior = declaration.behavior, behavior.uppercased() == "NON_BLOCKING" {
        warnings.drop("functionDeclarations.behavior")
      }
      out.endObject()
      out.endObject()
    }
    out.endArray()
    switch toolChoice {
    case .mode(let mode): out.member("tool_choice", string: mode)
    case .function(let name):
      out.beginObject("tool_choice")
      out.member("type", string: "function")
      out.beginObject("function")
      out.member("name", string: name)
      out.endObject()
      out.endObject()
    case nil: break
    }
  }

  /// Writes sampling, output-format and reasoning members; returns `includeThoughts`.
  private static func writeGenerationConfig(
    _ config: GeminiGenerationConfig, dialect: OpenAIDialect, into out: inout JSONBytesBuilder,
    warnings: inout TranslationWarnings
  ) throws(GeminiRequestError) -> Bool {
    let path = "generationConfig"
    for field in config.ignoredFields { warnings.drop(field) }
    if let field = config.mediaOutputFields.first {
      throw GeminiRequestError("\(field): audio and image output are not available on OpenAI-compatible backends")
    }
    if let modalities = config.responseModalities, modalities.contains(where: { $0 != "TEXT" }) {
      throw GeminiRequestError(
        "\(path).responseModalities: only TEXT output is available on OpenAI-compatible backends")
    }
    if let value = config.temperature { out.member("temperature", double: value) }
    if let value = config.topP { out.member("top_p", double: value) }
    if let value = config.topK {
      if dialect.acceptsTopK {
        out.member("top_k", int: Int64(value))
      } else {
        warnings.drop("\(path).topK")
      }
    }
    if let count = config.candidateCount, count != 1 {
      guard count >= 1 else { throw GeminiRequestError("\(path).candidateCount: must be at least 1") }
      guard dialect.supportsN else {
        throw GeminiRequestError("\(path).candidateCount: this backend returns only one candidate per request")
      }
      out.member("n", int: Int64(count))
    }
    if let value = config.maxOutputTokens {
      out.key(escaping: dialect.maxTokensField.rawValue)
      out.int(Int64(value))
    }
    if let stops = config.stopSequences, !stops.isEmpty {
      if let limit = dialect.maxStopSequences, stops.count > limit {
        throw GeminiRequestError(
          "\(path).stopSequences: this backend accepts at most \(limit) stop sequences, got \(stops.count)")
      }
      out.beginArray("stop")
      for stop in stops { out.string(stop) }
      out.endArray()
    }
    if let value = config.presencePenalty { out.member("presence_penalty", double: value) }
    if let value = config.frequencyPenalty { out.member("frequency_penalty", double: value) }
    if let value = config.seed { out.member("seed", int: Int64(value)) }
    if config.responseLogprobs == true || config.logprobs != nil {
      out.member("logprobs", bool: true)
      if let count = config.logprobs { out.member("top_logprobs", int: Int64(count)) }
    }
    try writeResponseFormat(config, into: &out)
    var includeThoughts = false
    if let thinking = config.thinkingConfig {
      includeThoughts = thinking.includeThoughts ?? false
      if thinking.thinkingLevel != nil || thinking.thinkingBudget != nil {
        if dialect.acceptsReasoningEffort {
          if let level = thinking.thinkingLevel, level != "THINKING_LEVEL_UNSPECIFIED" {
            out.member("reasoning_effort", string: level.lowercased())
          } else if let budget = thinking.thinkingBudget {
            // Bucket thresholds are louter's own, not a published mapping.
            let effort: String? =
              switch budget {
              case ..<0: nil
              case 0: "none"
              case 1...1024: "low"
              case 1025...8192: "medium"
              default: "high"
              }
            if let effort {
              out.member("reasoning_effort", string: effort)
              warnings.approximate("\(path).thinkingConfig.thinkingBudget")
            }
          }
        } else {
          warnings.drop("\(path).thinkingConfig")
        }
      }
    }
    return includeThoughts
  }

  /// Writes `response_format` when the config asks for JSON output.
  private static func writeResponseFormat(
    _ config: GeminiGenerationConfig, into out: inout JSONBytesBuilder
  ) throws(GeminiRequestError) {
    let path = "generationConfig"
    let mime = config.responseMimeType?.lowercased()
    let hasSchema = config.responseSchema != nil || config.responseJsonSchema != nil
    switch mime {
    case "application/json":
      let schema: JSONValue?
      if let jsonSchema = config.responseJsonSchema {
        schema = jsonSchema
      } else if let geminiSchema = config.responseSchema {
        schema = try SchemaConverter.jsonSchema(fromGemini: geminiSchema, path: "\(path).responseSchema")
      } else {
        schema = nil
      }
      out.beginObject("response_format")
      if let schema {
        // strict:true would need additionalProperties:false and all-required; don't force it on clients' schemas.
        out.member("type", string: "json_schema")
        out.beginObject("json_schema")
        out.member("name", string: "response")
        out.member("schema", value: schema)
        out.member("strict", bool: false)
        out.endObject()
      } else {
        out.member("type", string: "json_object")
      }
      out.endObject()
    case "text/x.enum":
      throw GeminiRequestError(
        "\(path).responseMimeType: text/x.enum is not available on OpenAI-compatible backends; use application/json")
    case nil, "text/plain":
      if hasSchema {
        throw GeminiRequestError(
          "\(path).responseSchema: a response schema requires responseMimeType \"application/json\"")
      }
    case .some(let other):
      throw GeminiRequestError("\(path).responseMimeType: unsupported MIME type \"\(other)\"")
    }
  }
}

/// Writes OpenAI messages from Gemini contents, pairing function responses with calls (protocols.md §6.2).
struct ConversationBuilder {
  /// Calls of the latest model turn that still await a response: (id, name).
  private var openCalls: [(id: String, name: String)] = []

  /// Writes the messages of one content (none, one, or a tool message per function response and then one) as
  /// elements of the open `messages` array.
  mutating func add(
    _ content: GeminiContent, index: Int, into out: inout JSONBytesBuilder, warnings: inout TranslationWarnings
  ) throws(GeminiRequestError) {
    let path = FieldPath("", "contents", index)
    let role = content.role ?? "user"
    // Roles come lowercase; only others are lowercased (which builds a new string) before a second look.
    switch Self.turn(role) ?? Self.turn(role.lowercased()) {
    case .model: try addModelTurn(content, path: path, index: index, into: &out, warnings: &warnings)
    case .user: try addUserTurn(content, path: path, into: &out, warnings: &warnings)
    case nil:
      throw GeminiRequestError("\(path.rendered).role: must be \"user\" or \"model\", got \"\(content.role ?? "")\"")
    }
  }

  /// Whose turn a lowercase role is.
  private enum Turn { case model, user }

  private static func turn(_ role: String) -> Turn? {
    switch role {
    case "model", "assistant": .model
    case "user", "function", "tool": .user
    default: nil
    }
  }

  private mutating func addModelTurn(
    _ content: GeminiContent, path: FieldPath, index: Int, into out: inout JSONBytesBuilder,
    warnings: inout TranslationWarnings
  ) throws(GeminiRequestError) {
    var text = ""
    var newOpen: [(id: String, name: String)] = []
    // By index, as in ``addUserTurn``.
    for partIndex in content.parts.indices {
      let partPath = path.appending("parts", partIndex)
      for field in content.parts[partIndex].ignoredFields { warnings.drop(field) }
      if content.parts[partIndex].thought { continue }
      switch content.parts[partIndex].payload {
      case .text(let value): text += value
      case .functionCall(let call): newOpen.append((call.id ?? "call_\(index)_\(partIndex)", call.name))
      case .executableCode(let language, let code):
        text += "\n```\((language ?? "python").lowercased())\n\(code)\n```\n"
        warnings.approximate("\(partPath.rendered).executableCode")
      case .codeExecutionResult(_, let output):
        text += "\n```output\n\(output)\n```\n"
        warnings.approximate("\(partPath.rendered).codeExecutionResult")
      case .inlineData, .fileData:
        // Assistant messages carry no media on OpenAI; the model's own past media is context only.
        warnings.drop(partPath.rendered)
      case .functionResponse:
        throw GeminiRequestError("\(partPath.rendered): functionResponse must be in a user turn, not a model turn")
      case .empty: continue
      }
    }
    if newOpen.isEmpty && text.isEmpty { return }
    out.beginObject()
    out.member("role", string: "assistant")
    out.key("content")
    if text.isEmpty { out.null() } else { out.string(text) }
    if !newOpen.isEmpty {
      // The content comes before the calls, so they are written in a second pass, in the order they were found.
      out.beginArray("tool_calls")
      var callIndex = 0
      for part in content.parts where !part.thought {
        guard case .functionCall(let call) = part.payload else { continue }
        out.beginObject()
        out.member("id", string: newOpen[callIndex].id)
        out.member("type", string: "function")
        out.beginObject("function")
        out.member("name", string: call.name)
        out.member("arguments", string: call.args.serialized())
        out.endObject()
        out.endObject()
        callIndex += 1
      }
      out.endArray()
      openCalls = newOpen
    }
    out.endObject()
  }

  private mutating func addUserTurn(
    _ content: GeminiContent, path: FieldPath, into out: inout JSONBytesBuilder, warnings: inout TranslationWarnings
  ) throws(GeminiRequestError) {
    // All-text turns are sent as one string: the most widely accepted form across compat servers. Only a turn
    // with media needs each part as an object, so only such a turn writes them.
    let allText = !content.parts.contains { part in
      switch part.payload {
      case .inlineData, .fileData: !part.thought
      default: false
      }
    }
    // The parts go after the tool messages this turn's function responses become, so they are written apart
    // and copied in at the end.
    var parts = JSONBytesBuilder(capacity: allText ? 0 : 256)
    if !allText { parts.beginArray() }
    var hasParts = false
    var text = ""
    // By index, each part read in place: a `for part in` loop copies (retains and releases) every part.
    for partIndex in content.parts.indices {
      let partPath = path.appending("parts", partIndex)
      for field in content.parts[partIndex].ignoredFields { warnings.drop(field) }
      if content.parts[partIndex].thought { continue }
      switch content.parts[partIndex].payload {
      case .text(let value):
        hasParts = true
        if allText { text += value } else { Self.writeTextPart(value, into: &parts) }
      case .functionResponse(let response):
        for field in response.unsupportedFields { warnings.drop(field) }
        let id = try pair(response, path: partPath)
        out.beginObject()
        out.member("role", string: "tool")
        out.member("tool_call_id", string: id)
        out.key("content")
        if case .string(let raw) = response.response {
          out.string(raw)
        } else {
          out.string(response.response.serialized())
        }
        out.endObject()
      case .inlineData(let mime, let base64):
        hasParts = true
        try MediaConverter.inlineData(mime: mime, base64: base64, path: partPath.rendered, into: &parts)
      case .fileData(let mime, let uri):
        hasParts = true
        try MediaConverter.fileData(mime: mime, uri: uri, path: partPath.rendered, into: &parts)
      case .executableCode(let language, let code):
        let rendered = "\n```\((language ?? "python").lowercased())\n\(code)\n```\n"
        hasParts = true
        if allText { text += rendered } else { Self.writeTextPart(rendered, into: &parts) }
        warnings.approximate("\(partPath.rendered).executableCode")
      case .codeExecutionResult(_, let output):
        let rendered = "\n```output\n\(output)\n```\n"
        hasParts = true
        if allText { text += rendered } else { Self.writeTextPart(rendered, into: &parts) }
        warnings.approximate("\(partPath.rendered).codeExecutionResult")
      case .functionCall:
        throw GeminiRequestError("\(partPath.rendered): functionCall must be in a model turn, not a user turn")
      case .empty: continue
      }
    }
    if !hasParts { return }
    out.beginObject()
    out.member("role", string: "user")
    out.key("content")
    if allText {
      out.string(text)
    } else {
      parts.endArray()
      out.value(serialized: parts.bytes)
    }
    out.endObject()
  }

  /// Writes a `{"type":"text","text":…}` content part.
  private static func writeTextPart(_ text: String, into out: inout JSONBytesBuilder) {
    out.beginObject()
    out.member("type", string: "text")
    out.member("text", string: text)
    out.endObject()
  }

  /// The tool-call id a response answers: by id, else the first open call with that name, else the first open call.
  private mutating func pair(_ response: GeminiFunctionResponse, path: FieldPath) throws(GeminiRequestError) -> String {
    let index: Int? =
      if let id = response.id, let byID = openCalls.firstIndex(where: { $0.id == id }) {
        byID
      } else if let byName = openCalls.firstIndex(where: { $0.name == response.name }) {
        byName
      } else {
        openCalls.indices.first
      }
    guard let index else {
      throw GeminiRequestError(
        "\(path.rendered): functionResponse \"\(response.name)\" has no matching functionCall in the preceding model turn"
      )
    }
    let id = openCalls[index].id
    openCalls.remove(at: index)
    return id
  }
}

/// Gemini media parts → OpenAI content parts, written as elements of an open array.
enum MediaConverter {
  static func inlineData(mime: String, base64: String, path: String, into out: inout JSONBytesBuilder)
    throws(GeminiRequestError)
  {
    let type = mime.lowercased().split(separator: ";").first.map(String.init)?.trimmingWhitespace() ?? ""
    if type.hasPrefix("image/") {
      writeImageURL("data:\(type);base64,\(base64)", into: &out)
      return
    }
    let audioFormat: String? =
      switch type {
      case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave": "wav"
      case "audio/mp3", "audio/mpeg", "audio/mpeg3", "audio/x-mp3": "mp3"
      default: nil
      }
    if let audioFormat {
      out.beginObject()
      out.member("type", string: "input_audio")
      out.beginObject("input_audio")
      out.member("data", string: base64)
      out.member("format", string: audioFormat)
      out.endObject()
      out.endObject()
      return
    }
    if type == "application/pdf" {
      out.beginObject()
      out.member("type", string: "file")
      out.beginObject("file")
      out.member("filename", string: "document.pdf")
      out.member("file_data", string: "data:application/pdf;base64,\(base64)")
      out.endObject()
      out.endObject()
      return
    }
    throw GeminiRequestError(
      "\(path): inlineData with mimeType \"\(mime)\" is not supported by OpenAI-compatible backends "
        + "(supported: image/*, audio/wav, audio/mp3, application/pdf)")
  }

  static func fileData(mime: String?, uri: String, path: String, into out: inout JSONBytesBuilder)
    throws(GeminiRequestError)
  {
    let lowered = uri.lowercased()
    // Files API URIs look like https URLs but need Google credentials; the backend could not fetch them.
    let isFilesAPI = lowered.contains("generativelanguage.googleapis.com/") && lowered.contains("/files/")
    guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://"), !isFilesAPI else {
      throw GeminiRequestError(
        "\(path): fileData.fileUri \"\(uri)\" cannot be fetched by an OpenAI-compatible backend "
          + "(Files API and gs:// URIs exist only on Gemini); send the bytes as inlineData")
    }
    let isImage: Bool
    if let mime {
      isImage = mime.lowercased().hasPrefix("image/")
    } else {
      let file = lowered.split(separator: "?").first.map(String.init) ?? lowered
      isImage = [".png", ".jpg", ".jpeg", ".gif", ".webp"].contains { file.hasSuffix($0) }
    }
    guard isImage else {
      throw GeminiRequestError(
        "\(path): fileData with mimeType \"\(mime ?? "unknown")\" is not supported by OpenAI-compatible backends "
          + "(only image URLs can be passed by reference)")
    }
    writeImageURL(uri, into: &out)
  }

  /// Writes an `image_url` content part.
  private static func writeImageURL(_ url: String, into out: inout JSONBytesBuilder) {
    out.beginObject()
    out.member("type", string: "image_url")
    out.beginObject("image_url")
    out.member("url", string: url)
    out.endObject()
    out.endObject()
  }
}

/// Gemini `Schema` (OpenAPI 3.0 subset) → JSON Schema (protocols.md §6.3).
public enum SchemaConverter {
  /// Converts a schema; `path` names it in error messages.
  public static func jsonSchema(fromGemini schema: JSONValue, path: String) throws(GeminiRequestError) -> JSONValue {
    guard case .object(let members) = schema else { throw GeminiRequestError("\(path): a schema must be an object") }
    var out: [JSONMember] = []
    var type: String?
    var nullable = false
    for member in members {
      let key = FieldReader.canonical(member.key)
      let value = member.value
      switch key {
      case "type":
        let name = try GeminiEnum.type.decode(value).mapError {
          GeminiRequestError("\(path).type: \($0.message(.type))")
        }.get()
        let lowered = name.lowercased()
        guard lowered != "type_unspecified" else { continue }
        guard ["string", "number", "integer", "boolean", "array", "object", "null"].contains(lowered) else {
          throw GeminiRequestError("\(path).type: unknown type \"\(name)\"")
        }
        type = lowered
        out.append(JSONMember("type", .string(lowered)))
      case "nullable":
        nullable = value.boolValue ?? false
      case "propertyOrdering", "example":
        continue
      case "format":
        // Gemini marks enum strings with format "enum"; JSON Schema has no such format.
        if value.stringValue == "enum" { continue }
        out.append(JSONMember("format", value))
      case "items":
        out.append(JSONMember("items", try jsonSchema(fromGemini: value, path: "\(path).items")))
      case "properties":
        guard case .object(let properties) = value else {
          throw GeminiRequestError("\(path).properties: must be an object")
        }
        var converted: [JSONMember] = []
        for property in properties {
          converted.append(
            JSONMember(
              property.key, try jsonSchema(fromGemini: property.value, path: "\(path).properties.\(property.key)")))
        }
        out.append(JSONMember("properties", .object(converted)))
      case "anyOf":
        guard case .array(let options) = value else { throw GeminiRequestError("\(path).anyOf: must be a list") }
        var converted: [JSONValue] = []
        for (index, option) in options.enumerated() {
          converted.append(try jsonSchema(fromGemini: option, path: "\(path).anyOf[\(index)]"))
        }
        out.append(JSONMember("anyOf", .array(converted)))
      default:
        // enum, required, min/max*, pattern, title, description, default and anything else carry over as-is.
        out.append(JSONMember(key, value))
      }
    }
    if nullable {
      if let type, let index = out.firstIndex(where: { $0.key == "type" }) {
        out[index].value = .array([.string(type), "null"])
      } else if type == nil {
        out.append(JSONMember("nullable", true))
      }
      // An enum must list null too, or the `null` type could never validate.
      if let index = out.firstIndex(where: { $0.key == "enum" }), case .array(var values) = out[index].value,
        !values.contains(.null)
      {
        values.append(.null)
        out[index].value = .array(values)
      }
    }
    return .object(out)
  }
}
