import RouteSpec

/// What a request to the OpenAI front asks for, parsed from its method and path.
struct OpenAICall: Equatable {
  /// The API method; the raw value is what the request record calls it.
  enum Method: String, Equatable {
    case chatCompletions = "chat.completions"
    case embeddings
    case listModels = "models.list"
    case getModel = "models.retrieve"
  }

  let method: Method
  /// The model id of `getModel`, or the deployment of an Azure-style path (percent-decoded; may hold `/`);
  /// empty otherwise.
  let model: String

  /// Parses `POST /v1/chat/completions` and friends, with or without the `/v1` prefix, and the Azure-style
  /// `/openai/deployments/{deployment}/chat/completions` (and `/embeddings`, `GET /openai/models`); nil for
  /// any other path.
  static func parse(httpMethod: String, path: String) -> OpenAICall? {
    if path.hasPrefix("/openai/") { return parseAzure(httpMethod: httpMethod, path: path) }
    let rest = path.hasPrefix("/v1/") ? String(path.dropFirst("/v1".count)) : path
    switch (httpMethod, rest) {
    case ("POST", "/chat/completions"): return OpenAICall(method: .chatCompletions, model: "")
    case ("POST", "/embeddings"): return OpenAICall(method: .embeddings, model: "")
    case ("GET", "/models"), ("GET", "/models/"): return OpenAICall(method: .listModels, model: "")
    default: break
    }
    guard httpMethod == "GET", rest.hasPrefix("/models/") else { return nil }
    // The SDK encodes `/` in an id as %2F; curl sends it raw: both name the same model.
    guard let id = GeminiCall.percentDecoded(String(rest.dropFirst("/models/".count))) else { return nil }
    return OpenAICall(method: .getModel, model: id)
  }

  /// The `AzureOpenAI` client's paths: the deployment is one path segment, the `api-version` query is ignored.
  static func parseAzure(httpMethod: String, path: String) -> OpenAICall? {
    if httpMethod == "GET", path == "/openai/models" { return OpenAICall(method: .listModels, model: "") }
    let segments = path.split(separator: "/", omittingEmptySubsequences: false)
    guard httpMethod == "POST", segments.count >= 5, segments[1] == "openai", segments[2] == "deployments",
      let deployment = GeminiCall.percentDecoded(String(segments[3])), !deployment.isEmpty
    else { return nil }
    switch segments[4...].joined(separator: "/") {
    case "chat/completions": return OpenAICall(method: .chatCompletions, model: deployment)
    case "embeddings": return OpenAICall(method: .embeddings, model: deployment)
    default: return nil
    }
  }

  /// Whether the OpenAI front answers `request` (else the Gemini front does).
  ///
  /// Paths only OpenAI has (`/v1/chat/completions`, `/v1/embeddings`, anything without a version prefix)
  /// are OpenAI's. The one path both APIs have, `GET /v1/models[/{id}]`, is told apart by the key's
  /// header: Gemini clients send `x-goog-api-key` or `?key=` (and google SDKs `x-goog-api-client`),
  /// OpenAI clients `Authorization: Bearer` or `api-key`. A request with neither stays Gemini's, as
  /// before this front existed.
  static func servesOpenAI(_ request: HTTPRequest) -> Bool {
    guard let call = parse(httpMethod: request.method, path: request.path) else { return false }
    guard call.method == .listModels || call.method == .getModel, request.path.hasPrefix("/v1/") else { return true }
    return sendsOpenAICredentials(request)
  }

  /// The key's header says OpenAI client: `Authorization: Bearer` or `api-key`, and none of Gemini's
  /// (`x-goog-api-key`, `?key=`, `x-goog-api-client`).
  static func sendsOpenAICredentials(_ request: HTTPRequest) -> Bool {
    if request.headers["x-goog-api-key"] != nil || request.headers["x-goog-api-client"] != nil
      || QueryString.value("key", in: request.query) != nil
    {
      return false
    }
    return bearer(request) != nil || request.headers["api-key"] != nil
  }

  /// The key from `Authorization: Bearer`, then `api-key` (Azure-style clients).
  static func presentedKey(_ request: HTTPRequest) -> String? {
    if let key = bearer(request), !key.isEmpty { return key }
    if let key = request.headers["api-key"], !key.isEmpty { return key }
    return nil
  }

  /// The credentials of `Authorization: Bearer <credentials>` (scheme in any case), or nil.
  static func bearer(_ request: HTTPRequest) -> String? {
    guard let authorization = request.headers["authorization"] else { return nil }
    let parts = authorization.split(separator: " ", maxSplits: 1)
    guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
    return String(parts[1])
  }
}
