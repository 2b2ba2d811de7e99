public import RouteSpec

/// Gemini `embedContent`/`batchEmbedContents` ↔ OpenAI `/v1/embeddings` (protocols.md §7.6).
public enum EmbeddingTranslator {
  /// A translated embeddings request.
  public struct Request: Sendable, Equatable {
    /// The `/v1/embeddings` body.
    public var body: JSONValue
    /// Number of inputs (the answer must have as many vectors).
    public var count: Int
    /// Dropped fields (`taskType`, `title`).
    public var warnings: TranslationWarnings
  }

  /// Translates an `embedContent` (`batch == false`) or `batchEmbedContents` body.
  ///
  /// - Parameters:
  ///   - json: the Gemini request body.
  ///   - urlModel: the model id from the URL (without `models/`), used to check `requests[i].model`.
  ///   - backendModel: the backend model name sent upstream.
  public static func openAIRequest(
    _ json: JSONValue, batch: Bool, urlModel: String, backendModel: String
  ) throws(GeminiRequestError) -> Request {
    var warnings = TranslationWarnings()
    var items: [(JSONValue, String)] = []
    if batch {
      var reader = try FieldReader(json, path: "", what: "request body")
      guard let requests = try reader.array("requests"), !requests.isEmpty else {
        throw GeminiRequestError("requests: must not be empty")
      }
      reader.finish()
      for path in reader.unknown { warnings.drop(path) }
      for (index, element) in requests.enumerated() { items.append((element, "requests[\(index)]")) }
    } else {
      items.append((json, ""))
    }
    var inputs: [JSONValue] = []
    var dimensions: Int?
    for (element, path) in items {
      var reader = try FieldReader(element, path: path, what: "EmbedContentRequest")
      guard let content = reader.value("content") else { throw reader.failure("content", "is required") }
      if let model = try reader.string("model") {
        let stripped = model.hasPrefix("models/") ? String(model.dropFirst("models/".count)) : model
        if stripped != urlModel {
          throw reader.failure("model", "\"\(model)\" differs from the model in the URL (\"models/\(urlModel)\")")
        }
      }
      if try reader.enumValue("taskType", .taskType) != nil {
        warnings.drop(path.isEmpty ? "taskType" : "\(path).taskType")
      }
      if reader.value("title") != nil { warnings.drop(path.isEmpty ? "title" : "\(path).title") }
      if let value = try reader.int("outputDimensionality") {
        if let dimensions, dimensions != value {
          throw reader.failure("outputDimensionality", "must be the same for every request in a batch")
        }
        dimensions = value
      }
      reader.finish()
      for unknown in reader.unknown { warnings.drop(unknown) }
      var unknown: [String] = []
      let decoded = try GeminiContent.decode(
        content, path: FieldPath(path.isEmpty ? "content" : "\(path).content"), unknown: &unknown)
      var text = ""
      for (index, part) in decoded.parts.enumerated() {
        switch part.payload {
        case .text(let value): text += value
        case .empty: continue
        default:
          throw GeminiRequestError(
            "\(path.isEmpty ? "" : path + ".")content.parts[\(index)]: only text can be embedded by this backend")
        }
      }
      inputs.append(.string(text))
    }
    var body: [JSONMember] = [
      JSONMember("model", .string(backendModel)), JSONMember("input", .array(inputs)),
      JSONMember("encoding_format", "float"),
    ]
    if let dimensions { body.append(JSONMember("dimensions", .int(Int64(dimensions)))) }
    return Request(body: .object(body), count: inputs.count, warnings: warnings)
  }

  /// Translates the `/v1/embeddings` answer to `{"embedding":…}` or `{"embeddings":[…]}`.
  public static func geminiResponse(_ response: JSONValue, batch: Bool, expectedCount: Int) throws(GeminiError)
    -> JSONValue
  {
    guard case .array(let data) = response["data"] ?? .null else {
      throw GeminiError.internal("upstream embeddings answer has no data")
    }
    var vectors: [(Int64, JSONValue)] = []
    for (position, element) in data.enumerated() {
      guard case .array(let values) = element["embedding"] ?? .null else {
        throw GeminiError.internal("upstream embedding \(position) is not a list of floats (base64 is not supported)")
      }
      vectors.append((element["index"]?.intValue ?? Int64(position), .array(values)))
    }
    vectors.sort { $0.0 < $1.0 }
    guard vectors.count == expectedCount else {
      throw GeminiError.internal("upstream returned \(vectors.count) embeddings for \(expectedCount) inputs")
    }
    let embeddings = vectors.map { JSONValue.object([JSONMember("values", $0.1)]) }
    if batch { return .object([JSONMember("embeddings", .array(embeddings))]) }
    guard let first = embeddings.first else { throw GeminiError.internal("upstream returned no embedding") }
    return .object([JSONMember("embedding", first)])
  }
}

/// `countTokens` estimate for backends without a tokenizer endpoint.
///
/// Method: for every text (system instruction, text parts, function-call args and function-response bodies as
/// compact JSON, function declarations as compact JSON) count `ceil(utf8Bytes / 4)`; add 4 tokens per content
/// (role and message framing, like chat templates do), 258 per image/audio/PDF part (Gemini's fixed image cost),
/// and 3 to prime the reply. It is an estimate: the gateway should flag it (`approximated=countTokens`).
public enum TokenEstimator {
  /// Tokens per content for role/framing.
  public static let perMessageOverhead = 4
  /// Tokens per media part.
  public static let perMediaPart = 258

  /// Estimates the prompt tokens of a request.
  public static func estimate(_ request: GeminiRequest) -> Int {
    var total = 3
    if let system = request.systemInstruction { total += estimate(system) }
    for content in request.contents { total += estimate(content) }
    for tool in request.tools {
      for declaration in tool.functionDeclarations {
        var text = declaration.name + (declaration.description ?? "")
        if let schema = declaration.parametersJsonSchema ?? declaration.parameters { text += schema.serialized() }
        total += tokens(text)
      }
    }
    return total
  }

  static func estimate(_ content: GeminiContent) -> Int {
    var total = perMessageOverhead
    for part in content.parts {
      switch part.payload {
      case .text(let text): total += tokens(text)
      case .inlineData, .fileData: total += perMediaPart
      case .functionCall(let call): total += tokens(call.name) + tokens(call.args.serialized())
      case .functionResponse(let response): total += tokens(response.name) + tokens(response.response.serialized())
      case .executableCode(_, let code): total += tokens(code)
      case .codeExecutionResult(_, let output): total += tokens(output)
      case .empty: continue
      }
    }
    return total
  }

  /// `ceil(utf8Bytes / 4)`.
  public static func tokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

  /// Decodes a `countTokens` body (`{contents}` or `{generateContentRequest}`) and answers `{"totalTokens":N}`.
  public static func countTokensResponse(body json: JSONValue) throws(GeminiRequestError) -> JSONValue {
    var reader = try FieldReader(json, path: "", what: "request body")
    let request: GeminiRequest
    if let inner = reader.value("generateContentRequest") {
      request = try GeminiRequest.decode(inner)
    } else {
      var wrapped: [JSONMember] = []
      if let contents = reader.value("contents") { wrapped.append(JSONMember("contents", contents)) }
      request = try GeminiRequest.decode(.object(wrapped))
    }
    return .object([JSONMember("totalTokens", .int(Int64(estimate(request))))])
  }
}
