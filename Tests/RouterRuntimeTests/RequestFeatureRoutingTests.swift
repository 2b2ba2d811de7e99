import Testing

@testable import RouterRuntime

/// The request features a route matches on, as each front reads them from the body: `images` (an image part in
/// any spelling the Gemini API accepts, or an OpenAI `image_url` part) and `tools`.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RequestFeatureRoutingTests {
  static let routes = """
    [server]
    auth = "none"
    [backends.echo]
    protocol = "echo"
    [[routes]]
    name = "images"
    match = { images = true }
    backends = ["echo"]
    [[routes]]
    name = "tools"
    match = { tools = true }
    backends = ["echo"]
    [[routes]]
    name = "rest"
    backends = ["echo"]

    """

  static func route(of head: String) -> String? {
    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-louter-route: ") }.map {
      String($0.dropFirst("x-louter-route: ".count))
    }
  }

  @Test(arguments: [
    (#"{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]}]}"#, "images"),
    (#"{"contents":[{"parts":[{"inline_data":{"mime_type":"image/jpeg","data":"_-8"}}]}]}"#, "images"),
    (
      #"{"contents":[{"parts":[{"text":"a"},{"fileData":{"mimeType":"image/webp","fileUri":"https://e.com/a"}}]}]}"#,
      "images"
    ),
    (#"{"contents":{"parts":{"file_data":{"mime_type":"image/gif","file_uri":"https://e.com/a"}}}}"#, "images"),
    (#"{"contents":[{"parts":[{"inlineData":{"mimeType":"audio/wav","data":"AAAA"}}]}]}"#, "rest"),
    (#"{"contents":[{"parts":[{"text":"image/png"}]}]}"#, "rest"),
    (#"{"contents":[{"parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}]}"#, "tools"),
  ])
  func theGeminiFrontReadsImagesAndToolsFromTheBody(body: String, route: String) async throws {
    let louter = try GatewayUnderTest(Self.routes)
    defer { louter.stop() }
    let answer = try await louter.post("/v1beta/models/m:generateContent", body)
    #expect(Self.route(of: answer.head) == route, "\(answer.head)")
  }

  @Test(arguments: [
    (
      #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}"#,
      "images"
    ),
    (#"{"model":"m","messages":[{"role":"user","content":"image_url"}]}"#, "rest"),
  ])
  func theOpenAIFrontReadsImagesFromTheBody(body: String, route: String) async throws {
    let louter = try GatewayUnderTest(Self.routes)
    defer { louter.stop() }
    let answer = try await louter.post("/v1/chat/completions", body)
    #expect(Self.route(of: answer.head) == route, "\(answer.head)")
  }
}
