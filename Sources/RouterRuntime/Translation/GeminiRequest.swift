public import RouteSpec

/// A malformed Gemini request; becomes 400 `INVALID_ARGUMENT` with ``message``.
public struct GeminiRequestError: Error, Sendable, Equatable {
  /// Path-qualified explanation, e.g. `contents[2].parts[0]: inlineData.data is not valid base64`.
  public var message: String

  /// Creates an error.
  public init(_ message: String) { self.message = message }

  /// The Gemini error sent to the client.
  public var geminiError: GeminiError {
    GeminiError(
      .invalidArgument, message: message,
      details: [GeminiError.errorInfo(reason: "INVALID_REQUEST")])
  }
}

/// A decoded `GenerateContentRequest` (also the payload of `countTokens`' `generateContentRequest`).
public struct GeminiRequest: Sendable, Equatable {
  /// The conversation.
  public var contents: [GeminiContent] = []
  /// The system instruction (its role is ignored).
  public var systemInstruction: GeminiContent?
  /// Tools.
  public var tools: [GeminiTool] = []
  /// Tool configuration.
  public var toolConfig: GeminiToolConfig?
  /// Generation parameters.
  public var generationConfig = GeminiGenerationConfig()
  /// `cachedContent` name, if any.
  public var cachedContent: String?
  /// Paths of fields that were present but have no effect for OpenAI backends (`safetySettings`, `labels`, …).
  public var ignoredFields: [String] = []
  /// Paths of fields louter does not know.
  public var unknownFields: [String] = []

  /// An empty request.
  public init() {}

  /// Parses and decodes a request body.
  public static func decode(body: [UInt8]) throws(GeminiRequestError) -> GeminiRequest {
    let json: JSONValue
    do {
      json = try JSONParser.parse(body, syntax: .geminiRequest)
    } catch {
      throw GeminiRequestError("Invalid JSON payload received. \(error.message) at byte \(error.offset).")
    }
    return try decode(json)
  }

  /// Top-level fields with no effect on OpenAI backends (`model` repeats the URL's and is not reported).
  // Static rather than literal at the use: an array literal allocates on every request.
  static let ignoredRequestFields = ["labels", "serviceTier", "model"]

  /// Decodes a parsed request, accepting camelCase and snake_case names, single objects for arrays and
  /// integral floats for integers.
  public static func decode(_ json: JSONValue) throws(GeminiRequestError) -> GeminiRequest {
    // Many bodies are `{"contents": […]}` alone: read that shape directly rather than through a reader (the same
    // result: the contents, nothing ignored, nothing unknown at the top).
    if case .object(let members) = json, members.count == 1, members[0].key == "contents",
      case .array(let contents) = members[0].value
    {
      var request = GeminiRequest()
      request.contents = try decodeContents(contents, unknown: &request.unknownFields)
      return request
    }
    return try decodeMembers(json)
  }

  /// ``decode(_:)`` of any body, through a reader (apart, so that tests can hold the shortcut against it).
  @inline(never)
  static func decodeMembers(_ json: JSONValue) throws(GeminiRequestError) -> GeminiRequest {
    var reader = try FieldReader(json, path: "", what: "request body")
    var request = GeminiRequest()
    if let contents = try reader.array("contents") {
      request.contents = try decodeContents(contents, unknown: &reader.unknown)
    }
    if let system = reader.value("systemInstruction") {
      request.systemInstruction = try GeminiContent.decode(
        system, path: FieldPath("systemInstruction"), unknown: &reader.unknown)
    }
    if let tools = try reader.array("tools") {
      for (index, element) in tools.enumerated() {
        request.tools.append(try GeminiTool.decode(element, path: "tools[\(index)]", unknown: &reader.unknown))
      }
    }
    if let config = reader.value("toolConfig") {
      request.toolConfig = try GeminiToolConfig.decode(config, path: "toolConfig", unknown: &reader.unknown)
    }
    if let config = reader.value("generationConfig") {
      request.generationConfig = try GeminiGenerationConfig.decode(
        config, path: "generationConfig", unknown: &reader.unknown)
    }
    request.cachedContent = try reader.string("cachedContent")
    if let settings = try reader.array("safetySettings") {
      // OpenAI backends have no safety settings, but a malformed one is still the client's error, as on Google.
      for (index, element) in settings.enumerated() {
        var setting = try FieldReader(element, path: "safetySettings[\(index)]", what: "SafetySetting")
        _ = try setting.enumValue("category", .harmCategory)
        _ = try setting.enumValue("threshold", .harmBlockThreshold)
        setting.finish()
      }
      request.ignoredFields.append("safetySettings")
    }
    for name in ignoredRequestFields where reader.value(name) != nil {
      if name != "model" { request.ignoredFields.append(name) }
    }
    reader.finish()
    request.unknownFields = reader.unknown
    return request
  }

  private static func decodeContents(_ elements: [JSONValue], unknown: inout [String]) throws(GeminiRequestError)
    -> [GeminiContent]
  {
    // One content (most requests) made whole at its size: reserving room and appending cost more.
    if elements.count == 1 {
      return [try GeminiContent.decode(elements[0], path: FieldPath("", "contents", 0), unknown: &unknown)]
    }
    var contents: [GeminiContent] = []
    contents.reserveCapacity(elements.count)
    for index in elements.indices {
      contents.append(
        try GeminiContent.decode(elements[index], path: FieldPath("", "contents", index), unknown: &unknown))
    }
    return contents
  }
}

/// One turn of a conversation.
public struct GeminiContent: Sendable, Equatable {
  /// `user`, `model`, `function` (legacy), or nil.
  public var role: String?
  /// The parts, in order.
  public var parts: [GeminiPart]

  /// Creates a content.
  public init(role: String?, parts: [GeminiPart]) {
    self.role = role
    self.parts = parts
  }

  static func decode(_ json: JSONValue, path: FieldPath, unknown: inout [String]) throws(GeminiRequestError)
    -> GeminiContent
  {
    // Nearly every content is `{"role": "…", "parts": […]}`: read that shape directly rather than through a
    // reader (the same result: those two members, nothing unknown).
    if case .object(let members) = json, let plain = plain(members) {
      return GeminiContent(role: plain.role, parts: try decodeParts(plain.parts, path: path, unknown: &unknown))
    }
    return try decodeMembers(json, path: path, unknown: &unknown)
  }

  /// ``decode(_:path:unknown:)`` of any content, through a reader (apart, so that tests can hold the shortcut
  /// against it).
  @inline(never)
  static func decodeMembers(_ json: JSONValue, path: FieldPath, unknown: inout [String]) throws(GeminiRequestError)
    -> GeminiContent
  {
    var reader = try FieldReader(json, path: path, what: "Content")
    let role = try reader.string("role")
    var parts: [GeminiPart] = []
    if let elements = try reader.array("parts") {
      parts = try decodeParts(elements, path: path, unknown: &reader.unknown)
    }
    reader.finish()
    unknown.append(contentsOf: reader.unknown)
    return GeminiContent(role: role, parts: parts)
  }

  /// The role and parts of a content whose members are just those, once each and spelled so (`role` a string,
  /// `parts` a list, `role` optional); nil for any other content.
  private static func plain(_ members: [JSONMember]) -> (role: String?, parts: [JSONValue])? {
    var role: String?
    var parts: [JSONValue]?
    // By index: a `for member in` loop copies (retains) every member it passes.
    for index in members.indices {
      switch members[index].value {
      case .string(let text) where role == nil && members[index].key == "role": role = text
      case .array(let elements) where parts == nil && members[index].key == "parts": parts = elements
      default: return nil
      }
    }
    guard let parts else { return nil }
    return (role, parts)
  }

  private static func decodeParts(_ elements: [JSONValue], path: FieldPath, unknown: inout [String])
    throws(GeminiRequestError) -> [GeminiPart]
  {
    // One part (most contents), as one content above.
    if elements.count == 1 {
      return [try GeminiPart.decode(elements[0], path: path.appending("parts", 0), unknown: &unknown)]
    }
    var parts: [GeminiPart] = []
    parts.reserveCapacity(elements.count)
    for index in elements.indices {
      parts.append(try GeminiPart.decode(elements[index], path: path.appending("parts", index), unknown: &unknown))
    }
    return parts
  }
}

/// A function call made by the model.
public struct GeminiFunctionCall: Sendable, Equatable {
  /// Call id (often absent on the Developer API).
  public var id: String?
  /// Function name.
  public var name: String
  /// Arguments object (`{}` when absent).
  public var args: JSONValue

  /// Creates a call.
  public init(id: String?, name: String, args: JSONValue) {
    self.id = id
    self.name = name
    self.args = args
  }
}

/// A function result sent back by the client.
public struct GeminiFunctionResponse: Sendable, Equatable {
  /// Id of the call it answers, if given.
  public var id: String?
  /// Function name.
  public var name: String
  /// The result value (normally an object).
  public var response: JSONValue
  /// Paths of present but unsupported members (`parts`, `willContinue`, `scheduling`).
  public var unsupportedFields: [String]

  /// Members of a `FunctionResponse` that OpenAI has no slot for.
  static let unsupportedNames = ["parts", "willContinue", "scheduling"]

  /// Creates a response.
  public init(id: String?, name: String, response: JSONValue, unsupportedFields: [String] = []) {
    self.id = id
    self.name = name
    self.response = response
    self.unsupportedFields = unsupportedFields
  }
}

/// One part of a content.
public struct GeminiPart: Sendable, Equatable {
  /// The data member of a part.
  public enum Payload: Sendable, Equatable {
    /// Text.
    case text(String)
    /// Inline bytes; `base64` is already normalised to standard padded base64.
    case inlineData(mimeType: String, base64: String)
    /// A file reference.
    case fileData(mimeType: String?, fileURI: String)
    /// A function call.
    case functionCall(GeminiFunctionCall)
    /// A function response.
    case functionResponse(GeminiFunctionResponse)
    /// Code produced by the code-execution tool.
    case executableCode(language: String?, code: String)
    /// Output of the code-execution tool.
    case codeExecutionResult(outcome: String?, output: String)
    /// No data member (e.g. only a `thoughtSignature`).
    case empty
  }

  /// The data.
  public var payload: Payload
  /// Whether this is a thought (summary).
  public var thought: Bool
  /// The opaque thought signature (base64), if any.
  public var thoughtSignature: String?
  /// Paths of present metadata that has no OpenAI equivalent (`videoMetadata`, …).
  public var ignoredFields: [String]

  /// Creates a part.
  public init(payload: Payload, thought: Bool = false, thoughtSignature: String? = nil, ignoredFields: [String] = []) {
    self.payload = payload
    self.thought = thought
    self.thoughtSignature = thoughtSignature
    self.ignoredFields = ignoredFields
  }

  /// Part metadata with no OpenAI equivalent.
  static let ignoredNames = ["videoMetadata", "partMetadata", "mediaResolution"]

  /// The data members found in one part: the first, and the names of all (only needed when there are two).
  private struct Payloads {
    var first: Payload?
    var names: [String] = []

    mutating func append(_ entry: (String, Payload)) {
      if first == nil {
        first = entry.1
      } else if names.isEmpty {
        names.append(Self.name(of: first))
      }
      if !names.isEmpty { names.append(entry.0) }
    }

    var count: Int { first == nil ? 0 : max(1, names.count) }

    private static func name(of payload: Payload?) -> String {
      switch payload {
      case .text: "text"
      case .inlineData: "inlineData"
      case .fileData: "fileData"
      case .functionCall: "functionCall"
      case .functionResponse: "functionResponse"
      case .executableCode: "executableCode"
      case .codeExecutionResult: "codeExecutionResult"
      case .empty, nil: ""
      }
    }
  }

  static func decode(_ json: JSONValue, path: FieldPath, unknown: inout [String]) throws(GeminiRequestError)
    -> GeminiPart
  {
    // Nearly every part is `{"text": "…"}`: read that shape directly rather than asking a reader for each of
    // the dozen names a part may have (the same result: one data field, nothing unknown or ignored).
    if case .object(let members) = json, members.count == 1, members[0].key == "text",
      case .string(let text) = members[0].value
    {
      return GeminiPart(payload: .text(text))
    }
    return try decodeMembers(json, path: path, unknown: &unknown)
  }

  /// ``decode(_:path:unknown:)`` of any part, through a reader (apart, as ``GeminiContent``'s).
  @inline(never)
  static func decodeMembers(_ json: JSONValue, path: FieldPath, unknown: inout [String]) throws(GeminiRequestError)
    -> GeminiPart
  {
    var reader = try FieldReader(json, path: path, what: "Part")
    var payloads = Payloads()
    if let text = try reader.string("text") { payloads.append(("text", .text(text))) }
    if let inline = reader.value("inlineData") {
      var data = try FieldReader(inline, path: path, what: "inlineData", prefix: "inlineData.")
      guard let mime = try data.string("mimeType") else { throw data.failure("mimeType", "is required") }
      let raw = try data.string("data") ?? ""
      guard let base64 = Base64.normalized(raw) else { throw data.failure("data", "is not valid base64") }
      data.finish()
      reader.unknown.append(contentsOf: data.unknown)
      payloads.append(("inlineData", .inlineData(mimeType: mime, base64: base64)))
    }
    if let file = reader.value("fileData") {
      var data = try FieldReader(file, path: path, what: "fileData", prefix: "fileData.")
      let mime = try data.string("mimeType")
      guard let uri = try data.string("fileUri") else { throw data.failure("fileUri", "is required") }
      data.finish()
      reader.unknown.append(contentsOf: data.unknown)
      payloads.append(("fileData", .fileData(mimeType: mime, fileURI: uri)))
    }
    if let call = reader.value("functionCall") {
      var data = try FieldReader(call, path: path, what: "functionCall", prefix: "functionCall.")
      let id = try data.string("id")
      guard let name = try data.string("name"), !name.isEmpty else { throw data.failure("name", "is required") }
      let args = data.value("args") ?? .object([])
      guard case .object = args else { throw data.failure("args", "must be an object") }
      data.finish()
      reader.unknown.append(contentsOf: data.unknown)
      payloads.append(("functionCall", .functionCall(GeminiFunctionCall(id: id, name: name, args: args))))
    }
    if let response = reader.value("functionResponse") {
      var data = try FieldReader(response, path: path, what: "functionResponse", prefix: "functionResponse.")
      let id = try data.string("id")
      guard let name = try data.string("name"), !name.isEmpty else { throw data.failure("name", "is required") }
      let value = data.value("response") ?? .object([])
      var unsupported: [String] = []
      for field in GeminiFunctionResponse.unsupportedNames where data.value(field) != nil {
        unsupported.append("\(path.rendered).functionResponse.\(field)")
      }
      data.finish()
      reader.unknown.append(contentsOf: data.unknown)
      payloads.append(
        (
          "functionResponse",
          .functionResponse(GeminiFunctionResponse(id: id, name: name, response: value, unsupportedFields: unsupported))
        ))
    }
    if let code = reader.value("executableCode") {
      var data = try FieldReader(code, path: path, what: "executableCode", prefix: "executableCode.")
      let language = try data.enumValue("language", .language)
      let text = try data.string("code") ?? ""
      data.finish()
      reader.unknown.append(contentsOf: data.unknown)
      payloads.append(("executableCode", .executableCode(language: language, code: text)))
    }
    if let result = reader.value("codeExecutionResult") {
      var data = try FieldReader(result, path: path, what: "codeExecutionResult", prefix: "codeExecutionResult.")
      let outcome = try data.enumValue("outcome", .outcome)
      let output = try data.string("output") ?? ""
      data.finish()
      reader.unknown.append(contentsOf: data.unknown)
      payloads.append(("codeExecutionResult", .codeExecutionResult(outcome: outcome, output: output)))
    }
    guard payloads.count <= 1 else {
      throw GeminiRequestError(
        "\(path.rendered): a part must have exactly one data field, found " + payloads.names.joined(separator: " and "))
    }
    let thought = try reader.bool("thought") ?? false
    let signature = try reader.string("thoughtSignature")
    var ignored: [String] = []
    for field in ignoredNames where reader.value(field) != nil {
      ignored.append("\(path.rendered).\(field)")
    }
    reader.finish()
    unknown.append(contentsOf: reader.unknown)
    return GeminiPart(
      payload: payloads.first ?? .empty, thought: thought, thoughtSignature: signature, ignoredFields: ignored)
  }
}

/// A function declaration.
public struct GeminiFunctionDeclaration: Sendable, Equatable {
  /// Function name.
  public var name: String
  /// Description.
  public var description: String?
  /// Parameters as a Gemini `Schema` (OpenAPI subset), if given.
  public var parameters: JSONValue?
  /// Parameters as JSON Schema, if given (takes precedence).
  public var parametersJsonSchema: JSONValue?
  /// `behavior` (`BLOCKING`/`NON_BLOCKING`), if given.
  public var behavior: String?

  /// Creates a declaration.
  public init(
    name: String, description: String? = nil, parameters: JSONValue? = nil, parametersJsonSchema: JSONValue? = nil,
    behavior: String? = nil
  ) {
    self.name = name
    self.description = description
    self.parameters = parameters
    self.parametersJsonSchema = parametersJsonSchema
    self.behavior = behavior
  }
}

/// One `Tool` entry.
public struct GeminiTool: Sendable, Equatable {
  /// Declared functions.
  public var functionDeclarations: [GeminiFunctionDeclaration]
  /// Gemini-hosted tools present in this entry (`googleSearch`, `codeExecution`, …).
  public var builtInTools: [String]

  /// Creates a tool entry.
  public init(functionDeclarations: [GeminiFunctionDeclaration], builtInTools: [String] = []) {
    self.functionDeclarations = functionDeclarations
    self.builtInTools = builtInTools
  }

  static let builtInNames = [
    "googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext", "fileSearch", "googleMaps",
    "computerUse", "mcpServers", "retrieval", "enterpriseWebSearch",
  ]

  static func decode(_ json: JSONValue, path: String, unknown: inout [String]) throws(GeminiRequestError)
    -> GeminiTool
  {
    var reader = try FieldReader(json, path: path, what: "Tool")
    var declarations: [GeminiFunctionDeclaration] = []
    if let elements = try reader.array("functionDeclarations") {
      for (index, element) in elements.enumerated() {
        let declPath = "\(path).functionDeclarations[\(index)]"
        var decl = try FieldReader(element, path: declPath, what: "FunctionDeclaration")
        guard let name = try decl.string("name"), !name.isEmpty else { throw decl.failure("name", "is required") }
        let declaration = GeminiFunctionDeclaration(
          name: name, description: try decl.string("description"), parameters: decl.value("parameters"),
          parametersJsonSchema: decl.value("parametersJsonSchema"),
          behavior: try decl.enumValue("behavior", .behavior))
        // Response schemas describe the function's result; OpenAI has no slot for them.
        _ = decl.value("response")
        _ = decl.value("responseJsonSchema")
        decl.finish()
        reader.unknown.append(contentsOf: decl.unknown)
        declarations.append(declaration)
      }
    }
    var builtIns: [String] = []
    for name in builtInNames where reader.value(name) != nil { builtIns.append(name) }
    reader.finish()
    unknown.append(contentsOf: reader.unknown)
    return GeminiTool(functionDeclarations: declarations, builtInTools: builtIns)
  }
}

/// `toolConfig`.
public struct GeminiToolConfig: Sendable, Equatable {
  /// `functionCallingConfig.mode`, as an uppercased name (numbers are read by ``GeminiEnum/functionCallingMode``).
  public var mode: String?
  /// `functionCallingConfig.allowedFunctionNames`.
  public var allowedFunctionNames: [String]
  /// Whether a `retrievalConfig` was present.
  public var hasRetrievalConfig: Bool

  /// Creates a tool config.
  public init(mode: String?, allowedFunctionNames: [String] = [], hasRetrievalConfig: Bool = false) {
    self.mode = mode
    self.allowedFunctionNames = allowedFunctionNames
    self.hasRetrievalConfig = hasRetrievalConfig
  }

  static func decode(_ json: JSONValue, path: String, unknown: inout [String]) throws(GeminiRequestError)
    -> GeminiToolConfig
  {
    var reader = try FieldReader(json, path: path, what: "ToolConfig")
    var config = GeminiToolConfig(mode: nil)
    if let calling = reader.value("functionCallingConfig") {
      var inner = try FieldReader(calling, path: "\(path).functionCallingConfig", what: "FunctionCallingConfig")
      config.mode = try inner.enumValue("mode", .functionCallingMode)
      config.allowedFunctionNames = try inner.stringArray("allowedFunctionNames") ?? []
      inner.finish()
      reader.unknown.append(contentsOf: inner.unknown)
    }
    config.hasRetrievalConfig = reader.value("retrievalConfig") != nil
    reader.finish()
    unknown.append(contentsOf: reader.unknown)
    return config
  }
}

/// `generationConfig.thinkingConfig`.
public struct GeminiThinkingConfig: Sendable, Equatable {
  /// Return thought summaries.
  public var includeThoughts: Bool?
  /// Token budget (-1 dynamic, 0 off).
  public var thinkingBudget: Int?
  /// `MINIMAL`…`XHIGH`, uppercased.
  public var thinkingLevel: String?

  /// Creates a thinking config.
  public init(includeThoughts: Bool? = nil, thinkingBudget: Int? = nil, thinkingLevel: String? = nil) {
    self.includeThoughts = includeThoughts
    self.thinkingBudget = thinkingBudget
    self.thinkingLevel = thinkingLevel
  }
}

/// `generationConfig`.
public struct GeminiGenerationConfig: Sendable, Equatable {
  /// Sampling temperature.
  public var temperature: Double?
  /// Nucleus sampling.
  public var topP: Double?
  /// Top-k sampling.
  public var topK: Int?
  /// Number of candidates.
  public var candidateCount: Int?
  /// Output token limit.
  public var maxOutputTokens: Int?
  /// Stop sequences.
  public var stopSequences: [String]?
  /// Presence penalty.
  public var presencePenalty: Double?
  /// Frequency penalty.
  public var frequencyPenalty: Double?
  /// Seed.
  public var seed: Int?
  /// Response MIME type.
  public var responseMimeType: String?
  /// Response schema as a Gemini `Schema`.
  public var responseSchema: JSONValue?
  /// Response schema as JSON Schema.
  public var responseJsonSchema: JSONValue?
  /// Return logprobs of chosen tokens.
  public var responseLogprobs: Bool?
  /// Number of top logprobs per token.
  public var logprobs: Int?
  /// Requested output modalities, as uppercased names.
  public var responseModalities: [String]?
  /// Thinking configuration.
  public var thinkingConfig: GeminiThinkingConfig?
  /// Paths of media-generation options present (`speechConfig`, `imageConfig`); they cannot be honoured.
  public var mediaOutputFields: [String] = []
  /// Paths of present fields with no effect (`mediaResolution`, `enableEnhancedCivicAnswers`, …).
  public var ignoredFields: [String] = []

  /// An empty config.
  public init() {}

  /// Media-generation options that cannot be honoured.
  static let mediaOutputNames = ["speechConfig", "imageConfig"]
  /// Present fields with no effect on OpenAI backends.
  static let ignoredNames = ["enableEnhancedCivicAnswers", "audioTranscriptionConfig", "enableAffectiveDialog"]

  static func decode(_ json: JSONValue, path: String, unknown: inout [String]) throws(GeminiRequestError)
    -> GeminiGenerationConfig
  {
    var reader = try FieldReader(json, path: path, what: "GenerationConfig")
    var config = GeminiGenerationConfig()
    config.temperature = try reader.double("temperature")
    config.topP = try reader.double("topP")
    // Counts cannot be negative: a backend would take `max_tokens: -1` as its own error, or worse, as "no limit".
    config.topK = try reader.int("topK", minimum: 0)
    config.candidateCount = try reader.int("candidateCount", minimum: 0)
    config.maxOutputTokens = try reader.int("maxOutputTokens", minimum: 0)
    config.stopSequences = try reader.stringArray("stopSequences")
    config.presencePenalty = try reader.double("presencePenalty")
    config.frequencyPenalty = try reader.double("frequencyPenalty")
    config.seed = try reader.int("seed")
    config.responseMimeType = try reader.string("responseMimeType")
    config.responseSchema = reader.value("responseSchema")
    config.responseJsonSchema = reader.value("responseJsonSchema")
    config.responseLogprobs = try reader.bool("responseLogprobs")
    config.logprobs = try reader.int("logprobs")
    config.responseModalities = try reader.enumArray("responseModalities", .responseModality)
    if let thinking = reader.value("thinkingConfig") {
      var inner = try FieldReader(thinking, path: "\(path).thinkingConfig", what: "ThinkingConfig")
      config.thinkingConfig = GeminiThinkingConfig(
        includeThoughts: try inner.bool("includeThoughts"), thinkingBudget: try inner.int("thinkingBudget"),
        thinkingLevel: try inner.string("thinkingLevel")?.uppercased())
      inner.finish()
      reader.unknown.append(contentsOf: inner.unknown)
    }
    for field in mediaOutputNames where reader.value(field) != nil {
      config.mediaOutputFields.append("\(path).\(field)")
    }
    if try reader.enumValue("mediaResolution", .mediaResolution) != nil {
      config.ignoredFields.append("\(path).mediaResolution")
    }
    for field in ignoredNames where reader.value(field) != nil {
      config.ignoredFields.append("\(path).\(field)")
    }
    reader.finish()
    unknown.append(contentsOf: reader.unknown)
    return config
  }
}

/// A request path such as `contents[2].parts[0]`: a written-out parent and at most two indexed members, joined
/// only when a message or a reported field needs the text (joining it for every content and part showed in the
/// profile).
struct FieldPath {
  private let parent: String
  private let member: String?
  private let index: Int
  private let childMember: String?
  private let childIndex: Int

  /// A path already written out (`generationConfig`, `contents[0]`).
  init(_ path: String) {
    self.init(path, nil, 0)
  }

  /// Element `index` of the list `member` of `parent` (of the request itself when `parent` is empty).
  init(_ parent: String, _ member: String?, _ index: Int, child: (member: String, index: Int)? = nil) {
    self.parent = parent
    self.member = member
    self.index = index
    childMember = child?.member
    childIndex = child?.index ?? 0
  }

  /// Element `index` of the list `member` under this path.
  func appending(_ member: String, _ index: Int) -> FieldPath {
    if self.member == nil { return FieldPath(parent, member, index) }
    if childMember == nil, let own = self.member {
      return FieldPath(parent, own, self.index, child: (member, index))
    }
    return FieldPath(rendered, member, index)
  }

  /// The path as messages show it.
  var rendered: String {
    var text = parent
    if let member {
      if !text.isEmpty { text += "." }
      text += "\(member)[\(index)]"
    }
    if let childMember { text += ".\(childMember)[\(childIndex)]" }
    return text
  }
}

/// Reads the members of one JSON object by proto field name, accepting both JSON spellings.
struct FieldReader {
  /// Where errors are reported.
  private let location: FieldPath
  /// Where errors are reported, written out.
  var path: String { location.rendered }
  /// Prepended to field names in messages (`inlineData.`), so nested fields read naturally.
  let prefix: String
  /// The object's members as sent (original names).
  private let members: [JSONMember]
  /// The canonical name of each member (same order), only when some name has an underscore; otherwise the
  /// names as sent are canonical, and this costs no array.
  private var canonicalNames: [String]?
  /// Per member: whether its canonical name is ASCII, so that ``value(_:)`` may skip names of another length
  /// without comparing them (strings that are not ASCII may equal one of another length, `K` and U+212A). A bit
  /// per member for the first 64; the decoder asks for dozens of names per object and comparing them as Strings
  /// showed in the profile of a translated request.
  private var asciiBits: UInt64 = 0
  /// Bit `n % 64` set when some member's canonical name is `n` bytes long; all bits when some name is not
  /// ASCII or there are more than 64. Most of the names a decoder asks for are absent, and this answers them
  /// without a look at the members.
  private var lengths: UInt64 = 0
  /// Per member: whether some read asked for its name; the first 64 as bits, the rest in ``usedOverflow``.
  private var usedBits: UInt64 = 0
  /// `used` flags of members 64 and beyond (empty for every ordinary object).
  private var usedOverflow: [Bool] = []
  /// Unknown member paths, collected upward.
  var unknown: [String] = []

  init(_ json: JSONValue, path: String, what: String, prefix: String = "") throws(GeminiRequestError) {
    try self.init(json, path: FieldPath(path), what: what, prefix: prefix)
  }

  init(_ json: JSONValue, path location: FieldPath, what: String, prefix: String = "") throws(GeminiRequestError) {
    self.location = location
    self.prefix = prefix
    guard case .object(let object) = json else {
      let path = location.rendered
      let location = path.isEmpty ? "" : "\(path): "
      throw GeminiRequestError("\(location)\(prefix.isEmpty ? what : String(prefix.dropLast())) must be an object")
    }
    members = object
    var allASCII = true
    for index in object.indices {
      // One pass over the name's bytes (contiguous for every parsed string) for both questions.
      var key = object[index].key
      let (underscore, ascii) = key.withUTF8 { bytes in
        var underscore = false
        var high: UInt8 = 0
        for byte in bytes {
          high |= byte
          if byte == UInt8(ascii: "_") { underscore = true }
        }
        return (underscore, high < 0x80)
      }
      var length = key.utf8.count
      if underscore {
        if canonicalNames == nil { canonicalNames = object.map { $0.key } }
        let name = FieldReader.canonical(key)
        canonicalNames?[index] = name
        length = name.utf8.count
      }
      // Canonicalising only drops underscores: an ASCII name stays ASCII.
      if index < 64, ascii { asciiBits |= 1 << UInt64(index) }
      allASCII = allASCII && ascii && index < 64
      lengths |= 1 << UInt64(length & 63)
    }
    if !allASCII { lengths = ~0 }
    if object.count > 64 { usedOverflow = Array(repeating: false, count: object.count - 64) }
  }

  /// `mime_type` → `mimeType`, `_responseJsonSchema` → `responseJsonSchema`.
  static func canonical(_ key: String) -> String {
    guard key.utf8.contains(UInt8(ascii: "_")) else { return key }
    var result = ""
    var upperNext = false
    for character in key.drop(while: { $0 == "_" }) {
      if character == "_" {
        upperNext = true
      } else if upperNext {
        result += character.uppercased()
        upperNext = false
      } else {
        result.append(character)
      }
    }
    return result
  }

  func failure(_ field: String, _ message: String) -> GeminiRequestError {
    let path = path
    let location = path.isEmpty ? "" : "\(path): "
    return GeminiRequestError("\(location)\(prefix)\(field) \(message)")
  }

  /// The value of a field; `null` reads as absent (proto3 JSON). `name` must be ASCII (every proto field name is).
  mutating func value(_ name: String) -> JSONValue? {
    // Every member of that name counts as read (duplicates too); the first one is the value.
    let count = name.utf8.count
    guard lengths & (1 << UInt64(count & 63)) != 0 else { return nil }
    var found: JSONValue?
    for index in members.indices {
      let member = canonicalNames?[index] ?? members[index].key
      // Two ASCII strings of different lengths differ; the length of a native string costs nothing to read.
      if index < 64, asciiBits & (1 << UInt64(index)) != 0, member.utf8.count != count { continue }
      guard member == name else { continue }
      markUsed(index)
      if found == nil { found = members[index].value }
    }
    if case .null = found { return nil }
    return found
  }

  private mutating func markUsed(_ index: Int) {
    if index < 64 {
      usedBits |= 1 << UInt64(index)
    } else {
      markOverflowUsed(index)
    }
  }

  // Not inlined: inlined, the optimiser hoists the array's copy-on-write check out of ``value(_:)``'s loop and
  // copies the (shared, empty) overflow array on every read.
  @inline(never)
  private mutating func markOverflowUsed(_ index: Int) { usedOverflow[index - 64] = true }

  private func isUsed(_ index: Int) -> Bool {
    index < 64 ? usedBits & (1 << UInt64(index)) != 0 : usedOverflow[index - 64]
  }

  mutating func string(_ name: String) throws(GeminiRequestError) -> String? {
    guard let value = value(name) else { return nil }
    guard case .string(let text) = value else { throw failure(name, "must be a string") }
    return text
  }

  mutating func bool(_ name: String) throws(GeminiRequestError) -> Bool? {
    guard let value = value(name) else { return nil }
    guard case .bool(let flag) = value else { throw failure(name, "must be a boolean") }
    return flag
  }

  mutating func double(_ name: String) throws(GeminiRequestError) -> Double? {
    guard let value = value(name) else { return nil }
    guard let number = value.doubleValue else { throw failure(name, "must be a number") }
    return number
  }

  /// An `int32` field (every integer in the Gemini request is one); integral floats (`40.0`) are accepted
  /// because the Python SDK sends them. Anything outside `Int32` is rejected, never truncated.
  mutating func int(_ name: String, minimum: Int32 = .min) throws(GeminiRequestError) -> Int? {
    guard let value = value(name) else { return nil }
    guard value.intValue != nil else { throw failure(name, "must be an integer") }
    guard let number = value.integer(in: Int64(minimum)...Int64(Int32.max)) else {
      throw failure(name, "must be an integer between \(minimum) and \(Int32.max)")
    }
    return Int(number)
  }

  /// An array; a single non-array value counts as a one-element array.
  mutating func array(_ name: String) throws(GeminiRequestError) -> [JSONValue]? {
    guard let value = value(name) else { return nil }
    if case .array(let elements) = value { return elements }
    return [value]
  }

  mutating func stringArray(_ name: String) throws(GeminiRequestError) -> [String]? {
    guard let elements = try array(name) else { return nil }
    var result: [String] = []
    for element in elements {
      guard case .string(let text) = element else { throw failure(name, "must be a list of strings") }
      result.append(text)
    }
    return result
  }

  /// Records every member that no one asked for.
  mutating func finish() {
    for (index, member) in members.enumerated() where !isUsed(index) {
      let path = path
      unknown.append(path.isEmpty ? prefix + member.key : "\(path).\(prefix)\(member.key)")
    }
  }
}

/// Base64 handling for `bytes` fields.
public enum Base64 {
  /// Normalises standard or URL-safe, padded or unpadded base64 (whitespace ignored) to standard padded form;
  /// nil when the text is not base64.
  public static func normalized(_ text: String) -> String? {
    var out: [UInt8] = []
    out.reserveCapacity(text.utf8.count + 3)
    var padding = 0
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
        guard padding == 0 else { return nil }
        out.append(byte)
      case UInt8(ascii: "-"):
        guard padding == 0 else { return nil }
        out.append(UInt8(ascii: "+"))
      case UInt8(ascii: "_"):
        guard padding == 0 else { return nil }
        out.append(UInt8(ascii: "/"))
      case UInt8(ascii: "="):
        padding += 1
        guard padding <= 2 else { return nil }
      case 0x20, 0x0A, 0x0D, 0x09: continue
      default: return nil
      }
    }
    switch out.count % 4 {
    case 0: guard padding == 0 else { return nil }
    case 1: return nil
    case 2:
      guard padding == 0 || padding == 2 else { return nil }
      out.append(contentsOf: "==".utf8)
    default:
      guard padding == 0 || padding == 1 else { return nil }
      out.append(UInt8(ascii: "="))
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Standard padded base64 of `bytes`.
  public static func encode(_ bytes: some Sequence<UInt8>) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = []
    var buffer: UInt32 = 0
    var count = 0
    for byte in bytes {
      buffer = buffer << 8 | UInt32(byte)
      count += 1
      if count == 3 {
        out.append(alphabet[Int((buffer >> 18) & 63)])
        out.append(alphabet[Int((buffer >> 12) & 63)])
        out.append(alphabet[Int((buffer >> 6) & 63)])
        out.append(alphabet[Int(buffer & 63)])
        buffer = 0
        count = 0
      }
    }
    if count == 1 {
      buffer <<= 16
      out.append(alphabet[Int((buffer >> 18) & 63)])
      out.append(alphabet[Int((buffer >> 12) & 63)])
      out.append(contentsOf: "==".utf8)
    } else if count == 2 {
      buffer <<= 8
      out.append(alphabet[Int((buffer >> 18) & 63)])
      out.append(alphabet[Int((buffer >> 12) & 63)])
      out.append(alphabet[Int((buffer >> 6) & 63)])
      out.append(UInt8(ascii: "="))
    }
    return String(decoding: out, as: UTF8.self)
  }
}
