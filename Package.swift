// swift-tools-version: 6.2
import PackageDescription

// Every Swift target gets the same upcoming features, so that modules agree
// on how existentials and imports are spelled.
let swiftSettings: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
  name: "louter",
  products: [
    .executable(name: "louter", targets: ["louter"]),
    .executable(name: "louter-bench", targets: ["louter-bench"]),
  ],
  targets: [
    .target(name: "CLouterSystem"),
    .target(name: "RouteSpec", swiftSettings: swiftSettings, linkerSettings: [.linkedLibrary("m")]),
    .target(name: "RouteCompiler", dependencies: ["RouteSpec"], swiftSettings: swiftSettings),
    .target(
      name: "RouterRuntime",
      dependencies: ["RouteSpec", "RouteCompiler", "CLouterSystem"],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "louter",
      dependencies: ["RouteSpec", "RouteCompiler", "RouterRuntime"],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "louter-bench",
      dependencies: ["RouteSpec", "RouteCompiler", "RouterRuntime"],
      swiftSettings: swiftSettings
    ),
    .testTarget(name: "RouteSpecTests", dependencies: ["RouteSpec"], swiftSettings: swiftSettings),
    .testTarget(
      name: "RouteCompilerTests",
      dependencies: ["RouteSpec", "RouteCompiler"],
      exclude: ["Snapshots"],
      swiftSettings: swiftSettings
    ),
    .testTarget(name: "LouterCLITests", dependencies: ["louter"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    .testTarget(
      name: "RouterRuntimeTests",
      dependencies: ["RouteSpec", "RouteCompiler", "RouterRuntime"],
      swiftSettings: swiftSettings
    ),
  ]
)
