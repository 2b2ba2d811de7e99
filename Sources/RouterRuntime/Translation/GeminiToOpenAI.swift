public import RouteSpec

/// A translated `/chat/completions` request.
public struct OpenAIChatRequest: Sendable, Equatable {
  /// The request body.
  public var body: JSONValue
  /// Fields dropped or approximated on the way.
  public var warnings: TranslationWarnings
  /// Whether the client asked for thought parts (`thinkingConfig.includeThoughts`); the response side needs it.
  public var includeThoughts: Bool

  /// Creates a translated request.
  public init(body: JSONValue, warnings: TranslationWarnings, includeThoughts: Bool) {
    self.body = body
    self.warnings = warnings
    self.includeThoughts = includeThoughts
  }
}

/// Gemini `GenerateContentRequest` → OpenAI `/chat/completions` request (protocols.md §6).
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

    // Room for the members and messages a request usually has, so that neither array reallocates as it grows.
    var body: [JSONMember] = []
    body.reserveCapacity(8)
    body.append(JSONMember("model", .string(model)))
    var messages: [JSONValue] = []
    messages.reserveCapacity(request.contents.count + 1)
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
      messages.append(
        .object([
          JSONMember("role", .string(dialect.usesDeveloperRole ? "developer" : "system")),
          JSONMember("content", .string(texts.joined(separator: "\n"))),
        ]))
    }
    var conversation = ConversationBuilder()
    for (index, content) in request.contents.enumerated() {
      try conversation.add(content, index: index, warnings: &warnings)
    }
    messages.append(contentsOf: conversation.messages)
    body.append(JSONMember("messages", .array(messages)))

    try appendTools(request, dialect: dialect, into: &body, warnings: &warnings)
    let includeThoughts = try appendGenerationConfig(
      request.generationConfig, dialect: dialect, into: &body, warnings: &warnings)
    if stream {
      body.append(JSONMember("stream", true))
      if dialect.supportsStreamOptions {
        body.append(JSONMember("stream_options", .object([JSONMember("include_usage", true)])))
      }
    }
    return OpenAIChatRequest(body: .object(body), warnings: warnings, includeThoughts: includeThoughts)
  }

  private static func appendTools(
    _ request: GeminiRequest, dialect: OpenAIDialect, into body: inout [JSONMember],
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
    var toolChoice: JSONValue?
    if let config = request.toolConfig {
      if config.hasRetrievalConfig { warnings.drop("toolConfig.retrievalConfig") }
      switch config.mode {
      case "AUTO": toolChoice = "auto"
      case "NONE": toolChoice = "none"
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
          toolChoice = .object([
            JSONMember("type", "function"), JSONMember("function", .object([JSONMember("name", .string(name))])),
          ])
        } else {
          toolChoice = "required"
        }
      case "VALIDATED":
        toolChoice = "auto"
        warnings.approximate("toolConfig.functionCallingConfig.mode")
      case nil, "MODE_UNSPECIFIED": break
      case .some(let other):
        throw GeminiRequestError("toolConfig.functionCallingConfig.mode: unknown mode \"\(other)\"")
      }
    }
    guard !declarations.isEmpty else { return }
    var tools: [JSONValue] = []
    for (index, declaration) in declarations.enumerated() {
      var function: [JSONMember] = [JSONMember("name", .string(declaration.name))]
      if let description = declaration.description { function.append(JSONMember("description", .string(description))) }
      let parameters: JSONValue
      if let schema = declaration.parametersJsonSchema {
        parameters = schema
      } else if let schema = declaration.parameters {
        parameters = try SchemaConverter.jsonSchema(
          fromGemini: schema, path: "tools.functionDeclarations[\(index)].parameters")
      } else {
        parameters = .object([JSONMember("type", "object"), JSONMember("properties", .object([]))])
      }
      function.append(JSONMember("parameters", parameters))
      if let behavior = declaration.behavior, behavior.uppercased() == "NON_BLOCKING" {
        warnings.drop("functionDeclarations.behavior")
      }
      tools.append(.object([JSONMember("type", "function"), JSONMember("function", .object(function))]))
    }
    body.append(JSONMember("tools", .array(tools)))
    if let toolChoice { body.append(JSONMember("tool_choice", toolChoice)) }
  }

  /// Appends sampling, output-format and reasoning fields; returns `includeThoughts`.
  private static func appendGenerationConfig(
    _ config: GeminiGenerationConfig, dialect: OpenAIDialect, into body: inout [JSONMember],
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
    if let value = config.temperature { body.append(JSONMember("temperature", .double(value))) }
    if let value = config.topP { body.append(JSONMember("top_p", .double(value))) }
    if let value = config.topK {
      if dialect.acceptsTopK {
        body.append(JSONMember("top_k", .int(Int64(value))))
      } else {
        warnings.drop("\(path).topK")
      }
    }
    if let count = config.candidateCount, count != 1 {
      guard count >= 1 else { throw GeminiRequestError("\(path).candidateCount: must be at least 1") }
      guard dialect.supportsN else {
        throw GeminiRequestError("\(path).candidateCount: this backend returns only one candidate per request")
      }
      body.append(JSONMember("n", .int(Int64(count))))
    }
    if let value = config.maxOutputTokens {
      body.append(JSONMember(dialect.maxTokensField.rawValue, .int(Int64(value))))
    }
    if let stops = config.stopSequences, !stops.isEmpty {
      if let limit = dialect.maxStopSequences, stops.count > limit {
        throw GeminiRequestError(
          "\(path).stopSequences: this backend accepts at most \(limit) stop sequences, got \(stops.count)")
      }
      body.append(JSONMember("stop", .array(stops.map { .string($0) })))
    }
    if let value = config.presencePenalty { body.append(JSONMember("presence_penalty", .double(value))) }
    if let value = config.frequencyPenalty { body.append(JSONMember("frequency_penalty", .double(value))) }
    if let value = config.seed { body.append(JSONMember("seed", .int(Int64(value)))) }
    if config.responseLogprobs == true || config.logprobs != nil {
      body.append(JSONMember("logprobs", true))
      if let count = config.logprobs { body.append(JSONMember("top_logprobs", .int(Int64(count)))) }
    }
    if let format = try responseFormat(config) { body.append(JSONMember("response_format", format)) }
    var includeThoughts = false
    if let thinking = config.thinkingConfig {
      includeThoughts = thinking.includeThoughts ?? false
      if thinking.thinkingLevel != nil || thinking.thinkingBudget != nil {
        if dialect.acceptsReasoningEffort {
          if let level = thinking.thinkingLevel, level != "THINKING_LEVEL_UNSPECIFIED" {
            body.append(JSONMember("reasoning_effort", .string(level.lowercased())))
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
              body.append(JSONMember("reasoning_effort", .string(effort)))
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

  private static func responseFormat(_ config: GeminiGenerationConfig) throws(GeminiRequestError) -> JSONValue? {
    let path = "generationConfig"
    let mime = config.responseMimeType?.lowercased()
    let hasSchema = config.responseSchema != nil || config.responseJsonSchema != nil
    switch mime {
    case "application/json":
      let schema: JSONValue
      if let jsonSchema = config.responseJsonSchema {
        schema = jsonSchema
      } else if let geminiSchema = config.responseSchema {
        schema = try SchemaConverter.jsonSchema(fromGemini: geminiSchema, path: "\(path).responseSchema")
      } else {
        return .object([JSONMember("type", "json_object")])
      }
      // strict:true would need additionalProperties:false and all-required; don't force it on clients' schemas.
      return .object([
        JSONMember("type", "json_schema"),
        JSONMember(
          "json_schema",
          .object([JSONMember("name", "response"), JSONMember("schema", schema), JSONMember("strict", false)])),
      ])
    case "text/x.enum":
      throw GeminiRequestError(
        "\(path).responseMimeType: text/x.enum is not available on OpenAI-compatible backends; use application/json")
    case nil, "text/plain":
      if hasSchema {
        throw GeminiRequestError(
          "\(path).responseSchema: a response schema requires responseMimeType \"application/json\"")
      }
      return nil
    case .some(let other):
      throw GeminiRequestError("\(path).responseMimeType: unsupported MIME type \"\(other)\"")
    }
  }
}

/// Builds OpenAI messages from Gemini contents, pairing function responses with calls (protocols.md §6.2).
struct ConversationBuilder {
  private(set) var messages: [JSONValue] = []
  /// Calls of the latest model turn that still await a response: (id, name).
  private var openCalls: [(id: String, name: String)] = []

  mutating func add(_ content: GeminiContent, index: Int, warnings: inout TranslationWarnings)
    throws(GeminiRequestError)
  {
    let path = FieldPath("", "contents", index)
    let role = content.role ?? "user"
    // Roles come lowercase; only others are lowercased (which builds a new string) before a second look.
    switch Self.turn(role) ?? Self.turn(role.lowercased()) {
    case .model: try addModelTurn(content, path: path, index: index, warnings: &warnings)
    case .user: try addUserTurn(content, path: path, warnings: &warnings)
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
    _ content: GeminiContent, path: FieldPath, index: Int, warnings: inout TranslationWarnings
  ) throws(GeminiRequestError) {
    var text = ""
    var calls: [JSONValue] = []
    var newOpen: [(id: String, name: String)] = []
    for (partIndex, part) in content.parts.enumerated() {
      let partPath = path.appending("parts", partIndex)
      for field in part.ignoredFields { warnings.drop(field) }
      if part.thought { continue }
      switch part.payload {
      case .text(let value): text += value
      case .functionCall(let call):
        let id = call.id ?? "call_\(index)_\(partIndex)"
        newOpen.append((id, call.name))
        calls.append(
          .object([
            JSONMember("id", .string(id)), JSONMember("type", "function"),
            JSONMember(
              "function",
              .object([
                JSONMember("name", .string(call.name)), JSONMember("arguments", .string(call.args.serialized())),
              ])),
          ]))
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
    if calls.isEmpty && text.isEmpty { return }
    var message: [JSONMember] = [
      JSONMember("role", "assistant"), JSONMember("content", text.isEmpty && !calls.isEmpty ? .null : .string(text)),
    ]
    if !calls.isEmpty {
      message.append(JSONMember("tool_calls", .array(calls)))
      openCalls = newOpen
    }
    messages.append(.object(message))
  }

  private mutating func addUserTurn(_ content: GeminiContent, path: FieldPath, warnings: inout TranslationWarnings)
    throws(GeminiRequestError)
  {
    // All-text turns are sent as one string: the most widely accepted form across compat servers. Only a turn
    // with media needs each part as an object, so only such a turn builds them.
    let allText = !content.parts.contains { part in
      switch part.payload {
      case .inlineData, .fileData: !part.thought
      default: false
      }
    }
    var parts: [JSONValue] = []
    var hasParts = false
    var text = ""
    for (partIndex, part) in content.parts.enumerated() {
      let partPath = path.appending("parts", partIndex)
      for field in part.ignoredFields { warnings.drop(field) }
      if part.thought { continue }
      switch part.payload {
      case .text(let value):
        text += value
        hasParts = true
        if !allText { parts.append(.object([JSONMember("type", "text"), JSONMember("text", .string(value))])) }
      case .functionResponse(let response):
        for field in response.unsupportedFields { warnings.drop(field) }
        let id = try pair(response, path: partPath)
        let resultText: String =
          if case .string(let raw) = response.response { raw } else { response.response.serialized() }
        messages.append(
          .object([
            JSONMember("role", "tool"), JSONMember("tool_call_id", .string(id)),
            JSONMember("content", .string(resultText)),
          ]))
      case .inlineData(let mime, let base64):
        hasParts = true
        parts.append(try MediaConverter.inlineData(mime: mime, base64: base64, path: partPath.rendered))
      case .fileData(let mime, let uri):
        hasParts = true
        parts.append(try MediaConverter.fileData(mime: mime, uri: uri, path: partPath.rendered))
      case .executableCode(let language, let code):
        let rendered = "\n```\((language ?? "python").lowercased())\n\(code)\n```\n"
        text += rendered
        hasParts = true
        if !allText { parts.append(.object([JSONMember("type", "text"), JSONMember("text", .string(rendered))])) }
        warnings.approximate("\(partPath.rendered).executableCode")
      case .codeExecutionResult(_, let output):
        let rendered = "\n```output\n\(output)\n```\n"
        text += rendered
        hasParts = true
        if !allText { parts.append(.object([JSONMember("type", "text"), JSONMember("text", .string(rendered))])) }
        warnings.approximate("\(partPath.rendered).codeExecutionResult")
      case .functionCall:
        throw GeminiRequestError("\(partPath.rendered): functionCall must be in a model turn, not a user turn")
      case .empty: continue
      }
    }
    if !hasParts { return }
    let body: JSONValue = allText ? .string(text) : .array(parts)
    messages.append(.object([JSONMember("role", "user"), JSONMember("content", body)]))
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

/// Gemini media parts → OpenAI content parts.
enum MediaConverter {
  static func inlineData(mime: String, base64: String, path: String) throws(GeminiRequestError) -> JSONValue {
    let type = mime.lowercased().split(separator: ";").first.map(String.init)?.trimmingWhitespace() ?? ""
    if type.hasPrefix("image/") {
      return .object([
        JSONMember("type", "image_url"),
        JSONMember("image_url", .object([JSONMember("url", .string("data:\(type);base64,\(base64)"))])),
      ])
    }
    let audioFormat: String? =
      switch type {
      case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave": "wav"
      case "audio/mp3", "audio/mpeg", "audio/mpeg3", "audio/x-mp3": "mp3"
      default: nil
      }
    if let audioFormat {
      return .object([
        JSONMember("type", "input_audio"),
        JSONMember(
          "input_audio", .object([JSONMember("data", .string(base64)), JSONMember("format", .string(audioFormat))])),
      ])
    }
    if type == "application/pdf" {
      return .object([
        JSONMember("type", "file"),
        JSONMember(
          "file",
          .object([
            JSONMember("filename", "document.pdf"),
            JSONMember("file_data", .string("data:application/pdf;base64,\(base64)")),
          ])),
      ])
    }
    throw GeminiRequestError(
      "\(path): inlineData with mimeType \"\(mime)\" is not supported by OpenAI-compatible backends "
        + "(supported: image/*, audio/wav, audio/mp3, application/pdf)")
  }

  static func fileData(mime: String?, uri: String, path: String) throws(GeminiRequestError) -> JSONValue {
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
    return .object([
      JSONMember("type", "image_url"), JSONMember("image_url", .object([JSONMember("url", .string(uri))])),
    ])
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
