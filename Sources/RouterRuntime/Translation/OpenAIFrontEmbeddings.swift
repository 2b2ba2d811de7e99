public import RouteSpec

/// OpenAI `/v1/embeddings` ↔ Gemini `batchEmbedContents`, for an OpenAI client and a Gemini backend.
public enum OpenAIFrontEmbeddings {
  /// The most inputs one request may carry (Gemini's batch limit).
  public static let maxInputs = 100

  /// A translated embeddings request.
  public struct Request: Sendable, Equatable {
    /// The `batchEmbedContents` body.
    public var body: JSONValue
    /// Number of inputs (the answer must have as many vectors).
    public var count: Int
    /// `encoding_format: "base64"` (the Python SDK's default): vectors go back as base64 float32.
    public var base64: Bool
    /// Dropped fields.
    public var warnings: TranslationWarnings
  }

  /// Translates `{model, input, encoding_format?, dimensions?, user?}` for the upstream `model`.
  public static func geminiRequest(_ body: JSONValue, model: String) throws(GeminiRequestError) -> Request {
    var warnings = TranslationWarnings()
    for member in body.objectValue ?? []
    where !["model", "input", "encoding_format", "dimensions"].contains(member.key) {
      warnings.drop(member.key)
    }
    let inputs: [String]
    switch body["input"] {
    case .string(let text)?: inputs = [text]
    case .array(let values)? where !values.isEmpty && values.allSatisfy({ $0.stringValue != nil }):
      inputs = values.compactMap(\.stringValue)
    default:
      throw GeminiRequestError(
        "input: must be a string or a non-empty array of strings (token arrays are not available)")
    }
    guard inputs.count <= maxInputs else { throw GeminiRequestError("input: at most \(maxInputs) inputs") }
    let base64: Bool
    switch body["encoding_format"]?.stringValue {
    case nil, "float"?: base64 = false
    case "base64"?: base64 = true
    default: throw GeminiRequestError("encoding_format: must be float or base64")
    }
    var dimensions: Int64?
    if let value = body["dimensions"], value != .null {
      guard let count = value.integer(in: 1...65_536) else {
        throw GeminiRequestError("dimensions: must be a whole number from 1 to 65536")
      }
      dimensions = count
    }
    let requests: [JSONValue] = inputs.map { text in
      var members: [JSONMember] = [
        JSONMember("model", .string("models/\(model)")),
        JSONMember("content", .object(["parts": [.object(["text": .string(text)])]])),
      ]
      if let dimensions { members.append(JSONMember("outputDimensionality", .int(dimensions))) }
      return .object(members)
    }
    return Request(
      body: .object(["requests": .array(requests)]), count: inputs.count, base64: base64, warnings: warnings)
  }

  /// Translates `{embeddings:[{values}]}` to OpenAI's list; `model` is the client's; token counts are
  /// estimated (Gemini's batch answer has none).
  public static func openAIResponse(
    _ answer: JSONValue, request: Request, model: String, estimatedTokens: Int64
  ) throws(GeminiError) -> JSONValue {
    guard let embeddings = answer["embeddings"]?.arrayValue, embeddings.count == request.count else {
      throw GeminiError(.unavailable, message: "the backend's embeddings answer does not have one vector per input")
    }
    var data: [JSONValue] = []
    for (index, embedding) in embeddings.enumerated() {
      guard let values = embedding["values"]?.arrayValue else {
        throw GeminiError(.unavailable, message: "the backend's embedding \(index) has no values")
      }
      var numbers: [Double] = []
      for value in values {
        guard let number = value.doubleValue else {
          throw GeminiError(.unavailable, message: "the backend's embedding \(index) holds a value that is no number")
        }
        numbers.append(number)
      }
      let vector: JSONValue =
        request.base64 ? .string(base64Float32(numbers)) : .array(numbers.map { .double($0) })
      data.append(.object(["object": "embedding", "index": .int(Int64(index)), "embedding": vector]))
    }
    return .object([
      "object": "list", "data": .array(data), "model": .string(model),
      "usage": .object(["prompt_tokens": .int(estimatedTokens), "total_tokens": .int(estimatedTokens)]),
    ])
  }

  /// Little-endian float32s, base64: what the SDK decodes for `encoding_format: "base64"`.
  static func base64Float32(_ numbers: [Double]) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(numbers.count * 4)
    for number in numbers {
      // Float(_:) rounds and saturates to ±infinity; it never traps.
      let bits = Float(number).bitPattern.littleEndian
      for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }
    return Base64.encode(bytes)
  }
}
