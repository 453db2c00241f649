//===- HostProgramTest.cpp - Tests of the host program interpreter --------===//
//
// Part of the xlstm-mlir project.
//
//===----------------------------------------------------------------------===//
//
// Parsing, validation and execution of host programs (docs/host-program.md)
// against a fake backend whose "device memory" is host memory and which
// records every launch with its packed parameter bytes. Only the CudaBackend
// test at the end needs a GPU; it skips when CudaDriver::load() fails.
//
//===----------------------------------------------------------------------===//

#include "xlstm/Runtime/HostProgram.h"

#include "xlstm/Runtime/CudaObjects.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <cstring>
#include <optional>

using namespace llvm;
using namespace xlstm::runtime;

namespace {

//===----------------------------------------------------------------------===//
// A fake device
//===----------------------------------------------------------------------===//

/// Host memory posing as device memory: the address is the host pointer.
class HostAllocation : public Allocation {
public:
  HostAllocation(std::unique_ptr<uint8_t[]> storage, size_t bytes, int *live)
      : Allocation(uint64_t(uintptr_t(storage.get())), bytes),
        storage(std::move(storage)), live(live) {
    ++*live;
  }
  ~HostAllocation() override { --*live; }

private:
  std::unique_ptr<uint8_t[]> storage;
  int *live;
};

struct Launch {
  unsigned kernel;
  LaunchShape shape;
  std::vector<std::vector<uint8_t>> parameters; ///< bytes of each parameter
};

class FakeBackend : public DeviceBackend {
public:
  Expected<std::shared_ptr<Allocation>> allocate(size_t bytes) override {
    ++allocations;
    maxLive = std::max(maxLive, live + 1);
    if (bytes > (size_t(64) << 20))
      return createStringError(inconvertibleErrorCode(), "fake out of memory");
    // Garbage-filled, like cuMemAlloc's memory.
    auto storage = std::make_unique<uint8_t[]>(bytes ? bytes : 1);
    std::memset(storage.get(), 0xAB, bytes);
    return std::make_shared<HostAllocation>(std::move(storage), bytes, &live);
  }
  Error launch(unsigned kernel, const LaunchShape &shape,
               const KernelArguments &arguments) override {
    Launch record{kernel, shape, {}};
    for (size_t i = 0; i < arguments.size(); ++i) {
      auto *bytes = static_cast<const uint8_t *>(arguments.getPointers()[i]);
      record.parameters.emplace_back(bytes, bytes + arguments.getSize(i));
    }
    launches.push_back(std::move(record));
    return Error::success();
  }
  Error copy(const Allocation &target, size_t targetOffset,
             const Allocation &source, size_t sourceOffset,
             size_t bytes) override {
    EXPECT_LE(targetOffset + bytes, target.getBytes());
    EXPECT_LE(sourceOffset + bytes, source.getBytes());
    std::memmove(pointer(target) + targetOffset, pointer(source) + sourceOffset,
                 bytes);
    ++copies;
    return Error::success();
  }
  Error copyFromHost(const Allocation &target, size_t offset,
                     const void *source, size_t bytes) override {
    std::memcpy(pointer(target) + offset, source, bytes);
    return Error::success();
  }
  Error copyToHost(void *target, const Allocation &source, size_t offset,
                   size_t bytes) override {
    std::memcpy(target, pointer(source) + offset, bytes);
    return Error::success();
  }
  Error synchronize() override { return Error::success(); }

  static uint8_t *pointer(const Allocation &allocation) {
    return reinterpret_cast<uint8_t *>(uintptr_t(allocation.getAddress()));
  }

  std::vector<Launch> launches;
  int allocations = 0, copies = 0, live = 0, maxLive = 0;
};

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

const std::vector<KernelRef> kKernels = {
    {"m0", "k0", "kernels/m0.ptx"},
    {"m1", "k1", "kernels/m1.ptx"},
};

Expected<HostProgram> parseText(StringRef text) {
  Expected<json::Value> json = json::parse(text);
  if (!json)
    return json.takeError();
  return HostProgram::parse(*json, kKernels);
}

/// A program from its parts (JSON text fragments).
std::string program(StringRef arguments, StringRef results, StringRef body) {
  return formatv(R"({{"arguments": [{0}], "results": [{1}], "body": [{2}]})",
                 arguments, results, body)
      .str();
}

std::string scalar(StringRef kind) {
  return formatv(R"({{"scalar": "{0}"})", kind).str();
}

std::string memrefType(StringRef element, StringRef shape, StringRef strides,
                       StringRef offset = "0") {
  return formatv(R"({{"memref": {{"element": "{0}", "shape": [{1}], )"
                 R"("strides": [{2}], "offset": {3}}})",
                 element, shape, strides, offset)
      .str();
}

std::string argument(StringRef name, StringRef type, StringRef role = "input") {
  return formatv(R"({{"name": "{0}", "role": "{1}", "type": {2}})", name, role,
                 type)
      .str();
}

std::string result(StringRef name, StringRef type) {
  return formatv(R"({{"name": "{0}", "type": {1}})", name, type).str();
}

/// Expects `value` to hold an Error whose message contains `substring`.
template <typename T> void expectError(Expected<T> value, StringRef substring) {
  ASSERT_FALSE(bool(value))
      << "expected an error containing: " << substring.str();
  std::string message = toString(value.takeError());
  EXPECT_NE(message.find(substring.str()), std::string::npos)
      << "message: " << message << "\nexpected to contain: " << substring.str();
}

#define ASSERT_OK(expected)                                                    \
  ASSERT_TRUE(bool(expected)) << toString((expected).takeError())

/// A host-backed memref of `sizes` with identity layout.
MemRefValue makeMemRef(FakeBackend &backend, ElementKind element,
                       ArrayRef<int64_t> sizes) {
  Expected<MemRefValue> memref = allocateMemRef(backend, element, sizes);
  EXPECT_TRUE(bool(memref)) << toString(memref.takeError());
  return *memref;
}

//===----------------------------------------------------------------------===//
// Parsing and validation
//===----------------------------------------------------------------------===//

struct ParseCase {
  const char *name;
  std::string text;
  const char *message;
};

std::string returnOnly(StringRef body) {
  return program(
      "", "",
      (body + (body.empty() ? "" : ", ") + R"({"op": "func.return"})").str());
}

std::string constantIndex(int id, int64_t value) {
  return formatv(R"({{"op": "arith.constant", "results": [{0}], )"
                 R"("types": [{{"scalar": "index"}], "value": {1}})",
                 id, value)
      .str();
}

/// `depth` scf.if regions inside each other.
std::string nestedIfs(unsigned depth) {
  std::string inner = "";
  for (unsigned i = 0; i < depth; ++i)
    inner = R"({"op": "scf.if", "operands": [0], "then": {"body": [)" + inner +
            "]}}";
  return program(argument("c", scalar("i1")), "",
                 inner + R"(, {"op": "func.return"})");
}

std::vector<ParseCase> parseCases() {
  std::string i = scalar("index");
  std::string m2 = memrefType("f32", "4, 8", "8, 1");
  return {
      {"NotAnObject", "[]", "host program: is an array; expected an object"},
      {"NoBody", R"({"arguments": [], "results": []})",
       "\"body\" is missing or not an array"},
      {"NoReturn", program("", "", constantIndex(0, 1)),
       "the program's body does not end with func.return"},
      {"ReturnNotLast",
       program("", "", R"({"op": "func.return"}, )" + constantIndex(0, 1)),
       "op 0 (func.return): func.return must be the last op"},
      {"UnknownOp", returnOnly(R"({"op": "arith.addf", "operands": []})"),
       "op 0 (arith.addf): unknown op 'arith.addf'"},
      {"OpNotAnObject", returnOnly("42"),
       "op 0: is a number; expected an object"},
      {"OpWithoutName", returnOnly(R"({"operands": []})"),
       "op 0: has no \"op\" name"},
      {"UseBeforeDefinition",
       returnOnly(R"({"op": "arith.addi", "operands": [5, 5], "results": [6],
                      "types": [{"scalar": "index"}]})"),
       "op 0 (arith.addi): operand 0 uses %5 before it is defined"},
      {"HugeId",
       returnOnly(R"({"op": "arith.addi", "operands": [9223372036854775807, 0],
                      "results": [1], "types": [{"scalar": "index"}]})"),
       "uses %9223372036854775807 before it is defined"},
      {"FractionalId", returnOnly(R"({"op": "arith.addi", "operands": [1.5, 0],
                      "results": [1], "types": [{"scalar": "index"}]})"),
       "operand 0 is a number; expected a value id"},
      {"OperandsNotAnArray",
       returnOnly(R"({"op": "arith.addi", "operands": "x"})"),
       "operand is a string; expected an array of value ids"},
      {"DefinedTwice",
       returnOnly(constantIndex(0, 1) + ", " + constantIndex(0, 2)),
       "op 1 (arith.constant): result 0 defines %0 a second time"},
      {"ResultsWithoutTypes",
       returnOnly(R"({"op": "arith.constant", "results": [0], "value": 1})"),
       "has 1 results but 0 types"},
      {"OperandCount",
       returnOnly(constantIndex(0, 1) +
                  R"(, {"op": "arith.addi", "operands": [0], "results": [1],
                        "types": [{"scalar": "index"}]})"),
       "op 1 (arith.addi): has 1 operand; expected 2"},
      {"OperandType",
       program(argument("a", i) + ", " + argument("b", scalar("i32")), "",
               R"({"op": "arith.addi", "operands": [0, 1], "results": [2],
                   "types": [{"scalar": "index"}]}, {"op": "func.return"})"),
       "op 0 (arith.addi): operand 1 has type i32; expected index"},
      {"FloatArithmetic",
       program(argument("a", scalar("f32")), "",
               R"({"op": "arith.addi", "operands": [0, 0], "results": [1],
                   "types": [{"scalar": "f32"}]}, {"op": "func.return"})"),
       "result has type f32; expected an integer"},
      {"ConstantOutOfRange",
       returnOnly(R"({"op": "arith.constant", "results": [0],
                      "types": [{"scalar": "i32"}], "value": 5000000000})"),
       "\"value\" is 5000000000, which does not fit in i32"},
      {"ConstantKind", returnOnly(R"({"op": "arith.constant", "results": [0],
                      "types": [{"scalar": "index"}], "value": "1"})"),
       "\"value\" is a string; expected an integer for type index"},
      {"UnknownScalarType",
       returnOnly(R"({"op": "arith.constant", "results": [0],
                      "types": [{"scalar": "f16"}], "value": 1})"),
       "result 0 type: unknown scalar type 'f16'"},
      {"TypeNotAnObject",
       program(argument("x", "[1]"), "", R"({"op": "func.return"})"),
       "argument 0 'x': type: a type is an object with one key"},
      {"MemRefStridesLength",
       program(argument("x", memrefType("f32", "4, 8", "1")), "",
               R"({"op": "func.return"})"),
       "the memref has 2 sizes but 1 strides"},
      {"MemRefElement",
       program(argument("x", memrefType("i8", "4", "1")), "",
               R"({"op": "func.return"})"),
       "the memref element type 'i8'"},
      {"NegativeShape",
       program(argument("x", memrefType("f32", "-4", "1")), "",
               R"({"op": "func.return"})"),
       "memref size 0 is negative (-4)"},
      {"UnknownRole",
       program(
           R"({"name": "x", "role": "weight", "type": {"scalar": "index"}})",
           "", R"({"op": "func.return"})"),
       "argument 0 'x': role 'weight' is unknown"},
      {"DuplicateArgument",
       program(argument("x", i) + ", " + argument("x", i), "",
               R"({"op": "func.return"})"),
       "argument 1 'x': the name is used by an earlier argument"},
      {"ReturnCount",
       program(argument("x", i), result("y", i), R"({"op": "func.return"})"),
       "op 0 (func.return): has 0 operands; expected 1"},
      {"ReturnType",
       program(argument("x", i), result("y", scalar("i64")),
               R"({"op": "func.return", "operands": [0]})"),
       "op 0 (func.return): result 0 has type index; expected i64"},
      {"KernelIndex",
       returnOnly(constantIndex(0, 1) +
                  R"(, {"op": "gpu.launch_func", "kernel": 2,
                        "grid": [0, 0, 0], "block": [0, 0, 0], "args": []})"),
       "op 1 (gpu.launch_func): \"kernel\" must be an index into the 2 "
       "kernels"},
      {"LaunchGridLength",
       returnOnly(constantIndex(0, 1) +
                  R"(, {"op": "gpu.launch_func", "kernel": 0,
                        "grid": [0, 0], "block": [0, 0, 0], "args": []})"),
       "\"grid\" must list 3 value ids"},
      {"LaunchI1Argument",
       program(argument("c", scalar("i1")) + ", " + argument("n", i), "",
               R"({"op": "gpu.launch_func", "kernel": 0, "grid": [1, 1, 1],
                   "block": [1, 1, 1], "args": [1, 0]},
                  {"op": "func.return"})"),
       "kernel argument 1 is an i1; the compiler must widen it"},
      {"CmpPredicate",
       program(argument("a", i), "",
               R"({"op": "arith.cmpi", "operands": [0, 0], "results": [1],
                   "types": [{"scalar": "i1"}], "predicate": "lt"},
                  {"op": "func.return"})"),
       "\"predicate\" 'lt' is unknown"},
      {"CmpResultType",
       program(argument("a", i), "",
               R"({"op": "arith.cmpi", "operands": [0, 0], "results": [1],
                   "types": [{"scalar": "index"}], "predicate": "eq"},
                  {"op": "func.return"})"),
       "result has type index; expected i1"},
      {"IndexCastBothIndex",
       program(argument("a", i), "",
               R"({"op": "arith.index_cast", "operands": [0], "results": [1],
                   "types": [{"scalar": "index"}]}, {"op": "func.return"})"),
       "casts index to index; exactly one side must be index"},
      {"ExtNarrows",
       program(argument("a", scalar("i64")), "",
               R"({"op": "arith.extsi", "operands": [0], "results": [1],
                   "types": [{"scalar": "i32"}]}, {"op": "func.return"})"),
       "casts i64 to i32; expected a wider type"},
      {"AllocNotIdentity",
       returnOnly(R"({"op": "memref.alloc", "results": [0], "types": [)" +
                  memrefType("f32", "4, 8", "1, 4") + "]}"),
       "does not have the identity layout (strides [8, 1], offset 0)"},
      {"AllocDynamicCount",
       returnOnly(R"({"op": "memref.alloc", "results": [0], "types": [)" +
                  memrefType("f32", "null, 8", "8, 1") + "]}"),
       "op 0 (memref.alloc): has 0 operands; expected 1"},
      {"AllocTooLarge",
       returnOnly(
           R"({"op": "memref.alloc", "results": [0], "types": [)" +
           memrefType("f32", "4294967296, 4294967296, 4294967296", "1, 1, 1") +
           "]}"),
       "is too large"},
      {"SubViewListLength",
       program(argument("x", m2), "",
               R"({"op": "memref.subview", "operands": [0], "results": [1],
                   "types": [)" +
                   memrefType("f32", "2, 2", "8, 1", "null") +
                   R"(], "static_offsets": [0, 0], "static_sizes": [2],
                   "static_strides": [1, 1]}, {"op": "func.return"})"),
       "op 0 (memref.subview): \"static_sizes\" has 1 entries; expected 2"},
      {"SubViewDynamicCount",
       program(argument("x", m2), "",
               R"({"op": "memref.subview", "operands": [0], "results": [1],
                   "types": [)" +
                   memrefType("f32", "2, 2", "8, 1", "null") +
                   R"(], "static_offsets": [null, 0], "static_sizes": [2, 2],
                   "static_strides": [1, 1]}, {"op": "func.return"})"),
       "op 0 (memref.subview): has 1 operand; expected 2"},
      {"SubViewDropsNonUnit",
       program(argument("x", m2), "",
               R"({"op": "memref.subview", "operands": [0], "results": [1],
                   "types": [)" +
                   memrefType("f32", "2", "1", "null") +
                   R"(], "static_offsets": [0, 0], "static_sizes": [2, 2],
                   "static_strides": [1, 1], "dropped_dims": [0]},
                   {"op": "func.return"})"),
       "drops dimension 0 of size 2"},
      {"SubViewResultRank",
       program(argument("x", m2), "",
               R"({"op": "memref.subview", "operands": [0], "results": [1],
                   "types": [)" +
                   memrefType("f32", "2", "1", "null") +
                   R"(], "static_offsets": [0, 0], "static_sizes": [2, 2],
                   "static_strides": [1, 1]}, {"op": "func.return"})"),
       "result has rank 1; expected 2"},
      {"ExpandReassociation",
       program(argument("x", m2), "",
               R"({"op": "memref.expand_shape", "operands": [0], "results": [1],
                   "types": [)" +
                   memrefType("f32", "4, 2, 4", "8, 4, 1") +
                   R"(], "reassociation": [[0], [2, 1]],
                   "static_output_shape": [4, 2, 4]}, {"op": "func.return"})"),
       "\"reassociation\" group 1 must continue with dimension 1"},
      {"CollapseElementType",
       program(argument("x", m2), "",
               R"({"op": "memref.collapse_shape", "operands": [0],
                   "results": [1], "types": [)" +
                   memrefType("f16", "32", "1") +
                   R"(], "reassociation": [[0, 1]]}, {"op": "func.return"})"),
       "changes the element type from f32 to f16"},
      {"CastIncompatible",
       program(argument("x", m2), "",
               R"({"op": "memref.cast", "operands": [0], "results": [1],
                   "types": [)" +
                   memrefType("f32", "4, 4", "8, 1") +
                   R"(]}, {"op": "func.return"})"),
       "cannot cast memref<4x8xf32"},
      {"ForStepType",
       program(argument("a", i) + ", " + argument("b", scalar("i32")), "",
               R"({"op": "scf.for", "operands": [0, 0, 1],
                   "body": {"arguments": [2], "body": [], "yield": []}},
                  {"op": "func.return"})"),
       "op 0 (scf.for): the step has type i32; expected index"},
      {"ForRegionArguments",
       program(argument("a", i), "",
               R"({"op": "scf.for", "operands": [0, 0, 0, 0], "results": [3],
                   "types": [{"scalar": "index"}],
                   "body": {"arguments": [1], "body": [], "yield": [1]}},
                  {"op": "func.return"})"),
       "region \"body\" has 1 arguments; expected 2"},
      {"ForYieldCount",
       program(argument("a", i), "",
               R"({"op": "scf.for", "operands": [0, 0, 0, 0], "results": [3],
                   "types": [{"scalar": "index"}],
                   "body": {"arguments": [1, 2], "body": [], "yield": []}},
                  {"op": "func.return"})"),
       "region \"body\" yields 0 values; expected 1"},
      {"IfNeedsElse",
       program(argument("c", scalar("i1")), "",
               R"({"op": "scf.if", "operands": [0], "results": [1],
                   "types": [{"scalar": "i1"}],
                   "then": {"body": [], "yield": [0]}},
                  {"op": "func.return"})"),
       "op 0 (scf.if): region \"else\" is missing or not an object"},
      {"UseOutsideRegion",
       program(argument("c", scalar("i1")), "",
               R"({"op": "scf.if", "operands": [0],
                   "then": {"body": [)" +
                   constantIndex(1, 1) + R"(], "yield": []}},
                  {"op": "arith.addi", "operands": [1, 1], "results": [2],
                   "types": [{"scalar": "index"}]},
                  {"op": "func.return"})"),
       "op 1 (arith.addi): operand 0 uses %1 outside the region that "
       "defines it"},
      {"NestedLocation",
       program(argument("a", i), "",
               R"({"op": "scf.for", "operands": [0, 0, 0],
                   "body": {"arguments": [1], "body": [
                     {"op": "arith.constant", "results": [2],
                      "types": [{"scalar": "index"}], "value": 1},
                     {"op": "arith.muli", "operands": [2], "results": [3],
                      "types": [{"scalar": "index"}]}], "yield": []}},
                  {"op": "func.return"})"),
       "host program: op 0 (scf.for) > body op 1 (arith.muli): has 1 "
       "operand; expected 2"},
      {"ReturnInRegion",
       program(argument("c", scalar("i1")), "",
               R"({"op": "scf.if", "operands": [0],
                   "then": {"body": [{"op": "func.return"}], "yield": []}},
                  {"op": "func.return"})"),
       "op 0 (scf.if) > then op 0 (func.return): func.return must be the "
       "last op of the program's body"},
      {"DeepNesting", nestedIfs(100), "regions nest deeper than 64"},
  };
}

class ParseError : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseError, SaysWhatIsWrong) {
  expectError(parseText(GetParam().text), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(HostProgram, ParseError,
                         ::testing::ValuesIn(parseCases()),
                         [](const auto &info) { return info.param.name; });

TEST(HostProgramParse, AcceptsSparseAndHugeIds) {
  // Ids need only be unique and defined before use; they are renumbered.
  Expected<HostProgram> parsed = parseText(
      program(argument("a", scalar("index")), result("r", scalar("index")),
              R"({"op": "arith.constant", "results": [9000000000000],
                  "types": [{"scalar": "index"}], "value": 3},
                 {"op": "arith.addi", "operands": [0, 9000000000000],
                  "results": [9223372036854775807],
                  "types": [{"scalar": "index"}]},
                 {"op": "arith.addi", "operands": [0, 9223372036854775807],
                  "results": [9223372036854775806],
                  "types": [{"scalar": "index"}]},
                 {"op": "func.return", "operands": [9223372036854775806]})"));
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->getNumValues(), 4u);
  FakeBackend backend;
  Expected<std::vector<Value>> results =
      execute(*parsed, backend, {Value::getInteger(1)});
  ASSERT_OK(results);
  EXPECT_EQ((*results)[0].getInteger(), 5);
  EXPECT_EQ(parsed->getArguments()[0].name, "a");
  EXPECT_EQ(parsed->findArgument("a"), 0u);
  EXPECT_EQ(parsed->findArgument("b"), std::nullopt);
}

TEST(HostProgramParse, AcceptsNestingUpToTheLimit) {
  ASSERT_OK(parseText(nestedIfs(HostProgram::kMaxRegionDepth)));
  expectError(parseText(nestedIfs(HostProgram::kMaxRegionDepth + 1)),
              "nest deeper");
}

TEST(HostProgramParse, Kernels) {
  Expected<json::Value> json = json::parse(
      R"([{"module": "forward_kernel_3", "name": "forward_kernel",
           "section": "kernels/forward_kernel_3.ptx"}])");
  ASSERT_OK(json);
  Expected<std::vector<KernelRef>> kernels = parseKernels(*json);
  ASSERT_OK(kernels);
  ASSERT_EQ(kernels->size(), 1u);
  EXPECT_EQ((*kernels)[0].name, "forward_kernel");
  EXPECT_FALSE((*kernels)[0].waitsOnPreviousGrid);
  json = json::parse(R"([{"module": "m", "name": 3, "section": "s"}])");
  ASSERT_OK(json);
  expectError(parseKernels(*json), "kernel 0 needs string fields");
}

TEST(HostProgramParse, KernelsThatWaitOnThePreviousGrid) {
  Expected<json::Value> json = json::parse(
      R"([{"module": "m", "name": "k", "section": "s"},
          {"module": "m", "name": "w", "section": "s",
           "waits_on_previous_grid": true}])");
  ASSERT_OK(json);
  Expected<std::vector<KernelRef>> kernels = parseKernels(*json);
  ASSERT_OK(kernels);
  ASSERT_EQ(kernels->size(), 2u);
  EXPECT_FALSE((*kernels)[0].waitsOnPreviousGrid);
  EXPECT_TRUE((*kernels)[1].waitsOnPreviousGrid);
  json = json::parse(R"([{"module": "m", "name": "k", "section": "s",
                          "waits_on_previous_grid": 1}])");
  ASSERT_OK(json);
  expectError(parseKernels(*json),
              "kernel 0: \"waits_on_previous_grid\" is a number; expected a "
              "boolean");
}

TEST(HostProgramParse, TypeToString) {
  Expected<json::Value> json =
      json::parse(memrefType("bf16", "null, 128", "128, 1", "null"));
  ASSERT_OK(json);
  Expected<Type> type = parseType(*json, "t");
  ASSERT_OK(type);
  EXPECT_EQ(toString(*type),
            "memref<?x128xbf16, strided<[128, 1], offset: ?>>");
}

//===----------------------------------------------------------------------===//
// Integer semantics
//===----------------------------------------------------------------------===//

/// Runs `name` on a and b of scalar type `type` and returns the result.
Expected<int64_t> binary(StringRef name, StringRef type, int64_t a, int64_t b,
                         StringRef extra = "") {
  std::string t = scalar(type);
  std::string resultType = name == "arith.cmpi" ? scalar("i1") : t;
  Expected<HostProgram> parsed = parseText(program(
      argument("a", t) + ", " + argument("b", t), result("r", resultType),
      formatv(R"({{"op": "{0}", "operands": [0, 1], "results": [2],
                  "types": [{1}] {2}}, {{"op": "func.return", "operands": [2]})",
              name, resultType, extra)
          .str()));
  if (!parsed)
    return parsed.takeError();
  FakeBackend backend;
  Expected<std::vector<Value>> results =
      execute(*parsed, backend, {Value::getInteger(a), Value::getInteger(b)});
  if (!results)
    return results.takeError();
  return (*results)[0].getInteger();
}

/// Runs cast `name` from `from` to `to` on a.
Expected<int64_t> cast(StringRef name, StringRef from, StringRef to,
                       int64_t a) {
  Expected<HostProgram> parsed = parseText(
      program(argument("a", scalar(from)), result("r", scalar(to)),
              formatv(R"({{"op": "{0}", "operands": [0], "results": [1],
                  "types": [{1}]}, {{"op": "func.return", "operands": [1]})",
                      name, scalar(to))
                  .str()));
  if (!parsed)
    return parsed.takeError();
  FakeBackend backend;
  Expected<std::vector<Value>> results =
      execute(*parsed, backend, {Value::getInteger(a)});
  if (!results)
    return results.takeError();
  return (*results)[0].getInteger();
}

#define EXPECT_VALUE(expected, value)                                          \
  do {                                                                         \
    auto v = (value);                                                          \
    ASSERT_TRUE(bool(v)) << toString(v.takeError());                           \
    EXPECT_EQ(*v, (expected));                                                 \
  } while (0)

TEST(HostProgramArith, DivisionRoundsLikeMLIR) {
  struct Case {
    int64_t a, b, div, rem, ceil, floor;
  };
  for (Case c : {Case{7, 2, 3, 1, 4, 3}, Case{-7, 2, -3, -1, -3, -4},
                 Case{7, -2, -3, 1, -3, -4}, Case{-7, -2, 3, -1, 4, 3},
                 Case{6, 3, 2, 0, 2, 2}, Case{-6, 3, -2, 0, -2, -2},
                 Case{0, -5, 0, 0, 0, 0}}) {
    SCOPED_TRACE(formatv("{0} / {1}", c.a, c.b).str());
    for (StringRef type : {"index", "i32"}) {
      EXPECT_VALUE(c.div, binary("arith.divsi", type, c.a, c.b));
      EXPECT_VALUE(c.rem, binary("arith.remsi", type, c.a, c.b));
      EXPECT_VALUE(c.ceil, binary("arith.ceildivsi", type, c.a, c.b));
      EXPECT_VALUE(c.floor, binary("arith.floordivsi", type, c.a, c.b));
    }
  }
  EXPECT_VALUE(3, binary("arith.ceildivui", "index", 7, 3));
  EXPECT_VALUE(2, binary("arith.ceildivui", "index", 6, 3));
  // -1 as unsigned i32 is 4294967295; / 2 = 2147483647, ceil 2147483648
  // wraps to i32's -2147483648.
  EXPECT_VALUE(2147483647, binary("arith.divui", "i32", -1, 2));
  EXPECT_VALUE(INT32_MIN, binary("arith.ceildivui", "i32", -1, 2));
  EXPECT_VALUE(1, binary("arith.remui", "i32", -1, 2));
}

TEST(HostProgramArith, DivisionByZeroIsAnError) {
  for (StringRef op :
       {"arith.divsi", "arith.divui", "arith.remsi", "arith.remui",
        "arith.ceildivsi", "arith.ceildivui", "arith.floordivsi"})
    expectError(binary(op, "index", 7, 0), "division by zero");
  // The low 32 bits of 2^32 are zero.
  expectError(binary("arith.divsi", "i32", int64_t(1) << 32, 1),
              "does not fit in i32");
}

TEST(HostProgramArith, OverflowWraps) {
  EXPECT_VALUE(INT64_MIN, binary("arith.divsi", "index", INT64_MIN, -1));
  EXPECT_VALUE(0, binary("arith.remsi", "index", INT64_MIN, -1));
  EXPECT_VALUE(INT64_MIN, binary("arith.floordivsi", "i64", INT64_MIN, -1));
  EXPECT_VALUE(INT32_MIN, binary("arith.addi", "i32", INT32_MAX, 1));
  EXPECT_VALUE(INT32_MIN, binary("arith.divsi", "i32", INT32_MIN, -1));
  EXPECT_VALUE(-2, binary("arith.muli", "i32", 0x7fffffff, 2));
  EXPECT_VALUE(INT64_MIN, binary("arith.addi", "index", INT64_MAX, 1));
  EXPECT_VALUE(0, binary("arith.addi", "i1", 1, 1));
  EXPECT_VALUE(1, binary("arith.xori", "i1", 1, 0));
  // i32 arguments may be given as their unsigned reading.
  EXPECT_VALUE(-1, binary("arith.ori", "i32", 0xffffffff, 0));
}

TEST(HostProgramArith, MinMaxAndBits) {
  EXPECT_VALUE(-1, binary("arith.minsi", "index", -1, 1));
  EXPECT_VALUE(1, binary("arith.minui", "index", -1, 1));
  EXPECT_VALUE(1, binary("arith.maxsi", "i32", -1, 1));
  EXPECT_VALUE(-1, binary("arith.maxui", "i32", -1, 1));
  EXPECT_VALUE(0b1000, binary("arith.andi", "i64", 0b1100, 0b1010));
  EXPECT_VALUE(0b0110, binary("arith.xori", "i64", 0b1100, 0b1010));
  EXPECT_VALUE(-5, binary("arith.subi", "index", 3, 8));
}

TEST(HostProgramArith, Compare) {
  auto cmp = [](StringRef predicate, StringRef type, int64_t a, int64_t b) {
    return binary("arith.cmpi", type, a, b,
                  (", \"predicate\": \"" + predicate + "\"").str());
  };
  EXPECT_VALUE(1, cmp("slt", "index", -1, 1));
  EXPECT_VALUE(0, cmp("ult", "index", -1, 1));
  EXPECT_VALUE(1, cmp("ugt", "i32", -1, 1));
  EXPECT_VALUE(1, cmp("eq", "i32", -1, 0xffffffff));
  EXPECT_VALUE(1, cmp("sle", "i64", 4, 4));
  EXPECT_VALUE(0, cmp("sgt", "i64", 4, 4));
  EXPECT_VALUE(1, cmp("sge", "i64", 4, 4));
  EXPECT_VALUE(1, cmp("ne", "index", 4, 5));
  EXPECT_VALUE(1, cmp("ule", "index", 4, 5));
  EXPECT_VALUE(0, cmp("uge", "index", 4, 5));
  // i1 true is -1 signed, 1 unsigned.
  EXPECT_VALUE(1, cmp("slt", "i1", 1, 0));
  EXPECT_VALUE(0, cmp("ult", "i1", 1, 0));
}

TEST(HostProgramArith, Casts) {
  EXPECT_VALUE(-5, cast("arith.index_cast", "i32", "index", -5));
  EXPECT_VALUE(4294967291, cast("arith.index_castui", "i32", "index", -5));
  EXPECT_VALUE(-1, cast("arith.index_cast", "index", "i32", 0xffffffff));
  EXPECT_VALUE(INT32_MIN, cast("arith.trunci", "i64", "i32", 0x180000000));
  EXPECT_VALUE(1, cast("arith.trunci", "i32", "i1", 3));
  EXPECT_VALUE(-1, cast("arith.extsi", "i1", "i32", 1));
  EXPECT_VALUE(1, cast("arith.extui", "i1", "i32", 1));
  EXPECT_VALUE(4294967295, cast("arith.extui", "i32", "i64", -1));
  EXPECT_VALUE(-1, cast("arith.extsi", "i32", "i64", -1));
}

TEST(HostProgramArith, ConstantsAndSelect) {
  Expected<HostProgram> parsed = parseText(program(
      argument("c", scalar("i1")),
      result("i", scalar("i32")) + ", " + result("f", scalar("f32")) + ", " +
          result("t", scalar("i1")),
      R"({"op": "arith.constant", "results": [1], "types": [{"scalar": "i32"}],
          "value": 4294967295},
         {"op": "arith.constant", "results": [2], "types": [{"scalar": "i32"}],
          "value": 7},
         {"op": "arith.select", "operands": [0, 1, 2], "results": [3],
          "types": [{"scalar": "i32"}]},
         {"op": "arith.constant", "results": [4], "types": [{"scalar": "f32"}],
          "value": "-inf"},
         {"op": "arith.constant", "results": [5], "types": [{"scalar": "i1"}],
          "value": true},
         {"op": "func.return", "operands": [3, 4, 5]})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  Expected<std::vector<Value>> results =
      execute(*parsed, backend, {Value::getInteger(1)});
  ASSERT_OK(results);
  EXPECT_EQ((*results)[0].getInteger(), -1);
  EXPECT_EQ((*results)[1].getFloat(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ((*results)[2].getInteger(), 1);
  results = execute(*parsed, backend, {Value::getInteger(0)});
  ASSERT_OK(results);
  EXPECT_EQ((*results)[0].getInteger(), 7);
}

//===----------------------------------------------------------------------===//
// Control flow
//===----------------------------------------------------------------------===//

/// sum = Σ i for i in [lb, ub) step s, starting from 100.
Expected<int64_t> loopSum(int64_t lb, int64_t ub, int64_t step,
                          StringRef type = "index") {
  std::string t = scalar(type);
  Expected<HostProgram> parsed = parseText(program(
      argument("lb", t) + ", " + argument("ub", t) + ", " + argument("step", t),
      result("sum", t),
      formatv(R"({{"op": "arith.constant", "results": [3], "types": [{0}],
                  "value": 100},
                 {{"op": "scf.for", "operands": [0, 1, 2, 3], "results": [4],
                  "types": [{0}],
                  "body": {{"arguments": [10, 11], "body": [
                    {{"op": "arith.addi", "operands": [11, 10],
                     "results": [12], "types": [{0}]}], "yield": [12]}},
                 {{"op": "func.return", "operands": [4]})",
              t)
          .str()));
  if (!parsed)
    return parsed.takeError();
  FakeBackend backend;
  Expected<std::vector<Value>> results = execute(
      *parsed, backend,
      {Value::getInteger(lb), Value::getInteger(ub), Value::getInteger(step)});
  if (!results)
    return results.takeError();
  return (*results)[0].getInteger();
}

TEST(HostProgramControl, ForLoops) {
  EXPECT_VALUE(100 + 0 + 3 + 6 + 9, loopSum(0, 10, 3));
  EXPECT_VALUE(100 + 0 + 3 + 6 + 9, loopSum(0, 12, 3));
  EXPECT_VALUE(100 - 3 - 2 - 1, loopSum(-3, 0, 1));
  EXPECT_VALUE(100, loopSum(5, 5, 1));
  EXPECT_VALUE(100, loopSum(5, -5, 1));
  EXPECT_VALUE(100 + 0 + 1, loopSum(0, 2, 1, "i32"));
  // The trip count does not overflow: 3 trips, at INT64_MIN, -1 and
  // INT64_MAX - 1, which sum to -3.
  EXPECT_VALUE(100 - 3, loopSum(INT64_MIN, INT64_MAX, INT64_MAX));
  expectError(loopSum(0, 10, 0), "op 1 (scf.for): the step is 0; it must be "
                                 "positive");
  expectError(loopSum(0, 10, -1), "the step is -1");
  // Found by fuzzing: a loop of 2^62 trips never ended. Executions are
  // bounded: such a loop is rejected before it starts.
  expectError(loopSum(0, int64_t(1) << 62, 1),
              "op 1 (scf.for): a loop of 4611686018427387904 trips would run "
              "more than 1073741824 ops; a loop bound is wrong (a malformed "
              "bundle?)");
}

TEST(HostProgramControl, If) {
  Expected<HostProgram> parsed = parseText(program(
      argument("a", scalar("index")), result("r", scalar("index")),
      R"({"op": "arith.constant", "results": [1], "types": [{"scalar": "index"}],
          "value": 10},
         {"op": "arith.cmpi", "operands": [0, 1], "results": [2],
          "types": [{"scalar": "i1"}], "predicate": "slt"},
         {"op": "scf.if", "operands": [2], "results": [3],
          "types": [{"scalar": "index"}],
          "then": {"body": [{"op": "arith.muli", "operands": [0, 0],
                             "results": [4], "types": [{"scalar": "index"}]}],
                   "yield": [4]},
          "else": {"body": [], "yield": [1]}},
         {"op": "scf.if", "operands": [2], "then": {"body": [], "yield": []}},
         {"op": "func.return", "operands": [3]})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  for (auto [input, expected] : {std::pair<int64_t, int64_t>{3, 9}, {12, 10}}) {
    Expected<std::vector<Value>> results =
        execute(*parsed, backend, {Value::getInteger(input)});
    ASSERT_OK(results);
    EXPECT_EQ((*results)[0].getInteger(), expected);
  }
}

//===----------------------------------------------------------------------===//
// Arguments
//===----------------------------------------------------------------------===//

TEST(HostProgramArguments, AreCheckedAgainstTheirTypes) {
  Expected<HostProgram> parsed =
      parseText(program(argument("x", memrefType("f32", "null, 8", "8, 1")) +
                            ", " + argument("n", scalar("i32")) + ", " +
                            argument("eps", scalar("f32"), "parameter"),
                        "", R"({"op": "func.return"})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  MemRefValue x = makeMemRef(backend, ElementKind::F32, {3, 8});
  Value n = Value::getInteger(4), eps = Value::getFloat(1e-5);
  ASSERT_OK(execute(*parsed, backend, {Value::getMemRef(x), n, eps}));

  expectError(execute(*parsed, backend, {Value::getMemRef(x), n}),
              "given 2 arguments; it takes 3");
  expectError(
      execute(*parsed, backend, {Value::getMemRef(x), Value::getFloat(4), eps}),
      "argument 'n' is a float; expected i32");
  expectError(execute(*parsed, backend,
                      {Value::getMemRef(x), Value::getInteger(1LL << 40), eps}),
              "argument 'n' is 1099511627776, which does not fit in i32");
  expectError(
      execute(*parsed, backend, {Value::getMemRef(x), n, Value::getInteger(1)}),
      "argument 'eps' is an integer; expected f32");
  expectError(execute(*parsed, backend, {Value(), n, eps}),
              "argument 'x' is missing");
  MemRefValue wide = makeMemRef(backend, ElementKind::F32, {3, 9});
  expectError(execute(*parsed, backend, {Value::getMemRef(wide), n, eps}),
              "argument 'x' is memref<3x9xf32, strides [9, 1], offset 0>; "
              "expected memref<?x8xf32");
  MemRefValue half = makeMemRef(backend, ElementKind::BF16, {3, 8});
  expectError(execute(*parsed, backend, {Value::getMemRef(half), n, eps}),
              "expected memref<?x8xf32");
  // A descriptor that claims more rows than its allocation holds.
  MemRefValue lying = x;
  lying.sizes[0] = 4;
  lying.strides = {8, 1};
  expectError(execute(*parsed, backend, {Value::getMemRef(lying), n, eps}),
              "argument 'x' (offset 0, sizes [4, 8], strides [8, 1], f32) "
              "reaches outside its allocation of 96 bytes");
}

TEST(HostProgramArguments, BindByName) {
  Expected<HostProgram> parsed =
      parseText(program(argument("a", scalar("index")) + ", " +
                            argument("b", scalar("index"), "state"),
                        "", R"({"op": "func.return"})"));
  ASSERT_OK(parsed);
  StringMap<Value> named;
  named["b"] = Value::getInteger(2);
  expectError(bindArguments(*parsed, named), "argument 'a' (input) is not "
                                             "given");
  named["a"] = Value::getInteger(1);
  Expected<std::vector<Value>> bound = bindArguments(*parsed, named);
  ASSERT_OK(bound);
  EXPECT_EQ((*bound)[0].getInteger(), 1);
  EXPECT_EQ((*bound)[1].getInteger(), 2);
  named["c"] = Value::getInteger(3);
  expectError(bindArguments(*parsed, named), "there is no argument 'c'");
}

//===----------------------------------------------------------------------===//
// Views
//===----------------------------------------------------------------------===//

/// Runs one view op on a 4x8 f32 argument (identity layout) and returns the
/// view, or the error.
Expected<MemRefValue> view(StringRef op, StringRef resultType, StringRef extra,
                           StringRef dynamicArguments = "",
                           StringRef dynamicOperands = "") {
  std::string args =
      argument("x", memrefType("f32", "4, 8", "8, 1")) +
      (dynamicArguments.empty() ? "" : ", " + dynamicArguments.str());
  Expected<HostProgram> parsed = parseText(
      program(args, result("v", resultType),
              formatv(R"({{"op": "{0}", "operands": [0{1}], "results": [100],
                  "types": [{2}]{3}}, {{"op": "func.return",
                  "operands": [100]})",
                      op, dynamicOperands, resultType,
                      extra.empty() ? "" : ", " + extra.str())
                  .str()));
  if (!parsed)
    return parsed.takeError();
  FakeBackend backend;
  std::vector<Value> arguments = {
      Value::getMemRef(makeMemRef(backend, ElementKind::F32, {4, 8}))};
  for (size_t i = 1; i < parsed->getArguments().size(); ++i)
    arguments.push_back(Value::getInteger(int64_t(i)));
  Expected<std::vector<Value>> results = execute(*parsed, backend, arguments);
  if (!results)
    return results.takeError();
  return (*results)[0].getMemRef();
}

void expectView(Expected<MemRefValue> value, int64_t offset,
                ArrayRef<int64_t> sizes, ArrayRef<int64_t> strides) {
  ASSERT_OK(value);
  EXPECT_EQ(value->offset, offset);
  EXPECT_EQ(ArrayRef<int64_t>(value->sizes), sizes);
  EXPECT_EQ(ArrayRef<int64_t>(value->strides), strides);
}

TEST(HostProgramViews, SubView) {
  expectView(view("memref.subview", memrefType("f32", "2, 3", "8, 2", "10"),
                  R"("static_offsets": [1, 2], "static_sizes": [2, 3],
                     "static_strides": [1, 2])"),
             10, {2, 3}, {8, 2});
  // Dynamic offset (argument 1 = 1), size (argument 2 = 2) and stride
  // (argument 3 = 3), operands in MLIR's order.
  std::string i = scalar("index");
  expectView(
      view("memref.subview", memrefType("f32", "null, 2", "null, 3", "null"),
           R"("static_offsets": [null, 0], "static_sizes": [null, 2],
                     "static_strides": [1, null])",
           argument("o", i) + ", " + argument("s", i) + ", " + argument("t", i),
           ", 1, 2, 3"),
      8, {2, 2}, {8, 3});
  // Rank-reducing: row 3 as a vector.
  expectView(view("memref.subview", memrefType("f32", "8", "1", "24"),
                  R"("static_offsets": [3, 0], "static_sizes": [1, 8],
                     "static_strides": [1, 1], "dropped_dims": [0])"),
             24, {8}, {1});
  // Column 5, dropping the column dimension.
  expectView(view("memref.subview", memrefType("f32", "4", "8", "5"),
                  R"("static_offsets": [0, 5], "static_sizes": [4, 1],
                     "static_strides": [1, 1], "dropped_dims": [1])"),
             5, {4}, {8});
  // Outside the source.
  expectError(view("memref.subview", memrefType("f32", "2, 3", "8, 3", "null"),
                   R"("static_offsets": [0, 2], "static_sizes": [2, 3],
                      "static_strides": [1, 3])"),
              "op 0 (memref.subview): dimension 1: offset 2, size 3, stride 3 "
              "do not fit in the source's size 8");
  // The declared static facts must hold.
  expectError(view("memref.subview", memrefType("f32", "2, 3", "8, 1", "10"),
                   R"("static_offsets": [1, 2], "static_sizes": [2, 3],
                      "static_strides": [1, 2])"),
              "made memref<2x3xf32, strides [8, 2], offset 10>, which does "
              "not have the declared type");
}

TEST(HostProgramViews, ExpandAndCollapse) {
  expectView(view("memref.expand_shape",
                  memrefType("f32", "4, 2, 4", "8, 4, 1"),
                  R"("reassociation": [[0], [1, 2]],
                     "static_output_shape": [4, 2, 4])"),
             0, {4, 2, 4}, {8, 4, 1});
  // The dynamic size is argument n = 1.
  expectView(view("memref.expand_shape",
                  memrefType("f32", "4, null, 8", "8, 8, 1"),
                  R"("reassociation": [[0], [1, 2]],
                     "static_output_shape": [4, null, 8])",
                  argument("n", scalar("index")), ", 1"),
             0, {4, 1, 8}, {8, 8, 1});
  expectError(view("memref.expand_shape",
                   memrefType("f32", "4, 3, 4", "8, 4, 1"),
                   R"("reassociation": [[0], [1, 2]],
                      "static_output_shape": [4, 3, 4])"),
              "group 1 has 12 elements; the source dimension has 8");
  expectView(view("memref.collapse_shape", memrefType("f32", "32", "1"),
                  R"("reassociation": [[0, 1]])"),
             0, {32}, {1});
}

TEST(HostProgramViews, CollapseOfAStridedView) {
  // Columns 0..3 of a 4x8 view are not contiguous as a whole, but each row
  // is, and a 1x4 row block collapses.
  std::string body =
      R"({"op": "memref.subview", "operands": [0], "results": [1],
          "types": [)" +
      memrefType("f32", "ROWS, 4", "8, 1", "0") +
      R"(], "static_offsets": [0, 0], "static_sizes": [ROWS, 4],
          "static_strides": [1, 1]},
         {"op": "memref.collapse_shape", "operands": [1], "results": [2],
          "types": [)" +
      memrefType("f32", "SIZE", "1", "0") +
      R"(], "reassociation": [[0, 1]]},
         {"op": "func.return", "operands": [2]})";
  auto run = [&](StringRef rows, StringRef size) -> Expected<MemRefValue> {
    std::string text = body;
    for (auto [from, to] :
         {std::pair<StringRef, StringRef>{"ROWS", rows}, {"SIZE", size}})
      for (size_t at; (at = text.find(from.str())) != std::string::npos;)
        text.replace(at, from.size(), to.str());
    Expected<HostProgram> parsed =
        parseText(program(argument("x", memrefType("f32", "4, 8", "8, 1")),
                          result("v", memrefType("f32", size, "1")), text));
    if (!parsed)
      return parsed.takeError();
    FakeBackend backend;
    Expected<std::vector<Value>> results = execute(
        *parsed, backend,
        {Value::getMemRef(makeMemRef(backend, ElementKind::F32, {4, 8}))});
    if (!results)
      return results.takeError();
    return (*results)[0].getMemRef();
  };
  expectView(run("1", "4"), 0, {4}, {1});
  expectError(run("4", "16"), "op 1 (memref.collapse_shape): group 0 of "
                              "memref<4x4xf32, strides [8, 1], offset 0> is "
                              "not contiguous");
}

TEST(HostProgramViews, CastAndReinterpret) {
  expectView(
      view("memref.cast", memrefType("f32", "null, 8", "null, 1"), "", "", ""),
      0, {4, 8}, {8, 1});
  expectView(view("memref.reinterpret_cast",
                  memrefType("f32", "2, 2", "1, 4", "4"),
                  R"("static_offsets": [4], "static_sizes": [2, 2],
                     "static_strides": [1, 4])"),
             4, {2, 2}, {1, 4});
  // Element 28 + 4 = 32 is one past the 32 elements of the allocation.
  expectError(view("memref.reinterpret_cast",
                   memrefType("f32", "2, 2", "1, 4", "28"),
                   R"("static_offsets": [28], "static_sizes": [2, 2],
                      "static_strides": [1, 4])"),
              "op 0 (memref.reinterpret_cast): the view (offset 28, sizes "
              "[2, 2], strides [1, 4], f32) reaches outside its allocation of "
              "128 bytes");
  expectError(view("memref.reinterpret_cast", memrefType("f32", "2", "-1", "0"),
                   R"("static_offsets": [0], "static_sizes": [2],
                      "static_strides": [-1])"),
              "reaches outside its allocation");
}

/// Bufferization inserts no deallocations: the interpreter drops each value
/// after its last use, so a chain of intermediates holds one buffer at a
/// time, not all of them.
TEST(HostProgramViews, IntermediatesAreFreedAfterTheirLastUse) {
  std::string dyn = memrefType("f32", "null, 8", "8, 1");
  Expected<HostProgram> parsed = parseText(
      program(argument("x", dyn) + ", " + argument("d", scalar("index")),
              result("y", dyn),
              R"({"op": "memref.dim", "operands": [0, 1], "results": [2],
          "types": [{"scalar": "index"}]},
         {"op": "memref.alloc", "operands": [2], "results": [3],
          "types": [)" +
                  dyn + R"(]},
         {"op": "memref.copy", "operands": [0, 3]},
         {"op": "memref.alloc", "operands": [2], "results": [4],
          "types": [)" +
                  dyn + R"(]},
         {"op": "memref.copy", "operands": [3, 4]},
         {"op": "memref.alloc", "operands": [2], "results": [5],
          "types": [)" +
                  dyn + R"(]},
         {"op": "memref.copy", "operands": [4, 5]},
         {"op": "func.return", "operands": [5]})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  MemRefValue x = makeMemRef(backend, ElementKind::F32, {3, 8});
  Expected<std::vector<Value>> results =
      execute(*parsed, backend, {Value::getMemRef(x), Value::getInteger(0)});
  ASSERT_OK(results);
  EXPECT_EQ(backend.allocations, 4);
  // x and the result only: the two intermediates went back.
  EXPECT_EQ(backend.live, 2);
  EXPECT_LE(backend.maxLive, 3); // x, the value copied from, the copy
}

TEST(HostProgramViews, DimAllocCopyDealloc) {
  std::string dyn = memrefType("f32", "null, 8", "8, 1");
  Expected<HostProgram> parsed = parseText(
      program(argument("x", dyn) + ", " + argument("d", scalar("index")),
              result("y", dyn) + ", " + result("n", scalar("index")),
              R"({"op": "memref.dim", "operands": [0, 1], "results": [2],
          "types": [{"scalar": "index"}]},
         {"op": "memref.alloc", "operands": [2], "results": [3],
          "types": [)" +
                  dyn + R"(]},
         {"op": "memref.alloc", "operands": [2], "results": [4],
          "types": [)" +
                  dyn + R"(]},
         {"op": "memref.copy", "operands": [0, 3]},
         {"op": "memref.dealloc", "operands": [4]},
         {"op": "func.return", "operands": [3, 2]})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  MemRefValue x = makeMemRef(backend, ElementKind::F32, {3, 8});
  std::vector<float> data(24);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = float(i);
  ASSERT_FALSE(errorToBool(
      backend.copyFromHost(*x.allocation, 0, data.data(), data.size() * 4)));
  Expected<std::vector<Value>> results =
      execute(*parsed, backend, {Value::getMemRef(x), Value::getInteger(0)});
  ASSERT_OK(results);
  EXPECT_EQ((*results)[1].getInteger(), 3);
  const MemRefValue &y = (*results)[0].getMemRef();
  EXPECT_EQ(ArrayRef<int64_t>(y.sizes), ArrayRef<int64_t>({3, 8}));
  std::vector<float> out(24);
  ASSERT_FALSE(
      errorToBool(backend.copyToHost(out.data(), *y.allocation, 0, 96)));
  EXPECT_EQ(out, data);
  EXPECT_EQ(backend.copies, 1);
  // x and y are alive; the deallocated buffer went back.
  EXPECT_EQ(backend.live, 2);

  expectError(
      execute(*parsed, backend, {Value::getMemRef(x), Value::getInteger(2)}),
      "op 0 (memref.dim): dimension 2 is out of range for a memref of rank 2");
}

/// Caller-given storage for results (a decoding state's next buffers): an
/// allocation returned as a result lands in it when the bytes match; a
/// result that is an argument, or storage of another size, does not.
TEST(HostProgramViews, ResultsLandInCallerStorage) {
  std::string dyn = memrefType("f32", "null, 8", "8, 1");
  Expected<HostProgram> parsed = parseText(
      program(argument("x", dyn) + ", " + argument("d", scalar("index")),
              result("y", dyn) + ", " + result("z", dyn) + ", " +
                  result("x2", dyn),
              R"({"op": "memref.dim", "operands": [0, 1], "results": [2],
          "types": [{"scalar": "index"}]},
         {"op": "memref.alloc", "operands": [2], "results": [3],
          "types": [)" +
                  dyn + R"(]},
         {"op": "memref.copy", "operands": [0, 3]},
         {"op": "memref.alloc", "operands": [2], "results": [4],
          "types": [)" +
                  dyn + R"(]},
         {"op": "memref.copy", "operands": [0, 4]},
         {"op": "func.return", "operands": [3, 4, 0]})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  MemRefValue x = makeMemRef(backend, ElementKind::F32, {3, 8});
  std::vector<float> data(24);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = float(i) + 0.5f;
  ASSERT_FALSE(errorToBool(
      backend.copyFromHost(*x.allocation, 0, data.data(), data.size() * 4)));
  MemRefValue mine = makeMemRef(backend, ElementKind::F32, {3, 8});
  MemRefValue wrongSize = makeMemRef(backend, ElementKind::F32, {2, 8});
  MemRefValue forArgument = makeMemRef(backend, ElementKind::F32, {3, 8});
  int before = backend.allocations;
  Expected<std::vector<Value>> results =
      execute(*parsed, backend, {Value::getMemRef(x), Value::getInteger(0)},
              {mine.allocation, wrongSize.allocation, forArgument.allocation});
  ASSERT_OK(results);
  EXPECT_EQ((*results)[0].getMemRef().allocation, mine.allocation);
  EXPECT_NE((*results)[1].getMemRef().allocation, wrongSize.allocation);
  EXPECT_EQ((*results)[2].getMemRef().allocation, x.allocation);
  EXPECT_EQ(backend.allocations, before + 1); // z only
  std::vector<float> out(24);
  ASSERT_FALSE(
      errorToBool(backend.copyToHost(out.data(), *mine.allocation, 0, 96)));
  EXPECT_EQ(out, data);
}

TEST(HostProgramViews, UseAfterDeallocIsAnError) {
  std::string m = memrefType("f32", "4", "1");
  Expected<HostProgram> parsed = parseText(program(
      "", "",
      R"({"op": "memref.alloc", "results": [0], "types": [)" + m + R"(]},
         {"op": "memref.dealloc", "operands": [0]},
         {"op": "memref.dealloc", "operands": [0]},
         {"op": "func.return"})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  expectError(execute(*parsed, backend, {}),
              "op 2 (memref.dealloc): operand 0 is used after memref.dealloc");
}

TEST(HostProgramViews, CopyNeedsContiguousMemRefs) {
  std::string full = memrefType("f32", "4, 8", "8, 1");
  std::string cols = memrefType("f32", "4, 4", "8, 1");
  Expected<HostProgram> parsed = parseText(
      program(argument("x", full), "",
              R"({"op": "memref.subview", "operands": [0], "results": [1],
          "types": [)" +
                  cols + R"(], "static_offsets": [0, 0], "static_sizes": [4, 4],
          "static_strides": [1, 1]},
         {"op": "memref.alloc", "results": [2], "types": [)" +
                  memrefType("f32", "4, 4", "4, 1") + R"(]},
         {"op": "memref.copy", "operands": [1, 2]},
         {"op": "func.return"})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  expectError(
      execute(
          *parsed, backend,
          {Value::getMemRef(makeMemRef(backend, ElementKind::F32, {4, 8}))}),
      "op 2 (memref.copy): copies memref<4x4xf32, strides [8, 1], offset 0> "
      "to memref<4x4xf32, strides [4, 1], offset 0>: only contiguous "
      "memrefs can be copied");
}

TEST(HostProgramViews, AllocSizes) {
  std::string dyn = memrefType("f32", "null", "1");
  Expected<HostProgram> parsed = parseText(
      program(argument("n", scalar("index")), "",
              R"({"op": "memref.alloc", "operands": [0], "results": [1],
          "types": [)" +
                  dyn + R"(]}, {"op": "func.return"})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  ASSERT_OK(execute(*parsed, backend, {Value::getInteger(0)}));
  expectError(execute(*parsed, backend, {Value::getInteger(-1)}),
              "op 0 (memref.alloc): size 0 is negative (-1)");
  expectError(execute(*parsed, backend, {Value::getInteger(INT64_MAX / 2)}),
              "the size overflows");
  expectError(execute(*parsed, backend, {Value::getInteger(1LL << 40)}),
              "op 0 (memref.alloc): fake out of memory");
}

//===----------------------------------------------------------------------===//
// Launches and kernel arguments
//===----------------------------------------------------------------------===//

template <typename T> T read(const std::vector<uint8_t> &bytes) {
  EXPECT_EQ(bytes.size(), sizeof(T));
  T value{};
  std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof(T)));
  return value;
}

TEST(HostProgramLaunch, PacksArgumentsTheNVVMWay) {
  std::string x = memrefType("f32", "null, 128", "128, 1");
  Expected<HostProgram> parsed = parseText(program(
      argument("x", x) + ", " + argument("n", scalar("index")), result("y", x),
      R"({"op": "memref.alloc", "operands": [1], "results": [2],
          "types": [)" +
          x + R"(]},
         {"op": "arith.constant", "results": [3], "types": [{"scalar": "index"}],
          "value": 4},
         {"op": "arith.ceildivsi", "operands": [1, 3], "results": [4],
          "types": [{"scalar": "index"}]},
         {"op": "arith.constant", "results": [5], "types": [{"scalar": "index"}],
          "value": 1},
         {"op": "arith.constant", "results": [6], "types": [{"scalar": "index"}],
          "value": 128},
         {"op": "arith.constant", "results": [7], "types": [{"scalar": "f32"}],
          "value": 0.5},
         {"op": "arith.constant", "results": [8], "types": [{"scalar": "i32"}],
          "value": -7},
         {"op": "arith.constant", "results": [9], "types": [{"scalar": "f64"}],
          "value": 0.1},
         {"op": "arith.constant", "results": [10], "types": [{"scalar": "i32"}],
          "value": 1024},
         {"op": "memref.subview", "operands": [0], "results": [11],
          "types": [)" +
          memrefType("f32", "1, 64", "128, 2", "1") +
          R"(], "static_offsets": [0, 1], "static_sizes": [1, 64],
          "static_strides": [1, 2]},
         {"op": "gpu.launch_func", "kernel": 1, "grid": [4, 5, 5],
          "block": [6, 5, 5], "shared_memory": 10,
          "args": [2, 0, 1, 7, 8, 9, 11]},
         {"op": "gpu.launch_func", "kernel": 0, "grid": [5, 5, 5],
          "block": [5, 5, 5], "shared_memory": null, "args": []},
         {"op": "func.return", "operands": [2]})"));
  ASSERT_OK(parsed);
  FakeBackend backend;
  MemRefValue input = makeMemRef(backend, ElementKind::F32, {10, 128});
  Expected<std::vector<Value>> results = execute(
      *parsed, backend, {Value::getMemRef(input), Value::getInteger(10)});
  ASSERT_OK(results);
  const MemRefValue &y = (*results)[0].getMemRef();

  ASSERT_EQ(backend.launches.size(), 2u);
  const Launch &launch = backend.launches[0];
  EXPECT_EQ(launch.kernel, 1u);
  EXPECT_EQ(launch.shape.grid, (std::array<unsigned, 3>{3, 1, 1}));
  EXPECT_EQ(launch.shape.block, (std::array<unsigned, 3>{128, 1, 1}));
  EXPECT_EQ(launch.shape.sharedMemoryBytes, 1024u);
  const std::vector<std::vector<uint8_t>> &p = launch.parameters;
  ASSERT_EQ(p.size(), 7u + 7u + 1u + 1u + 1u + 1u + 7u);
  // y: allocated, aligned, offset, sizes, strides.
  EXPECT_EQ(read<uint64_t>(p[0]), y.allocation->getAddress());
  EXPECT_EQ(read<uint64_t>(p[1]), y.allocation->getAddress());
  EXPECT_EQ(read<int64_t>(p[2]), 0);
  EXPECT_EQ(read<int64_t>(p[3]), 10);
  EXPECT_EQ(read<int64_t>(p[4]), 128);
  EXPECT_EQ(read<int64_t>(p[5]), 128);
  EXPECT_EQ(read<int64_t>(p[6]), 1);
  // x.
  EXPECT_EQ(read<uint64_t>(p[7]), input.allocation->getAddress());
  EXPECT_EQ(read<uint64_t>(p[8]), input.allocation->getAddress());
  // n (index), 0.5 (f32), -7 (i32), 0.1 (f64).
  EXPECT_EQ(read<int64_t>(p[14]), 10);
  EXPECT_EQ(read<float>(p[15]), 0.5f);
  EXPECT_EQ(read<int32_t>(p[16]), -7);
  EXPECT_EQ(read<double>(p[17]), 0.1);
  // The subview: the base pointers stay the allocation's; the offset field
  // carries the view's offset.
  EXPECT_EQ(read<uint64_t>(p[18]), input.allocation->getAddress());
  EXPECT_EQ(read<uint64_t>(p[19]), input.allocation->getAddress());
  EXPECT_EQ(read<int64_t>(p[20]), 1);
  EXPECT_EQ(read<int64_t>(p[21]), 1);
  EXPECT_EQ(read<int64_t>(p[22]), 64);
  EXPECT_EQ(read<int64_t>(p[23]), 128);
  EXPECT_EQ(read<int64_t>(p[24]), 2);

  EXPECT_EQ(backend.launches[1].kernel, 0u);
  EXPECT_EQ(backend.launches[1].parameters.size(), 0u);
  EXPECT_EQ(backend.launches[1].shape.sharedMemoryBytes, 0u);

  // A grid of 0 (n = 0 rows) is an empty loop: that launch never reaches
  // the driver; the program's other launch (a fixed grid) still runs.
  size_t before = backend.launches.size();
  auto empty = execute(*parsed, backend,
                       {Value::getMemRef(input), Value::getInteger(0)});
  ASSERT_OK(empty);
  EXPECT_EQ(backend.launches.size(), before + 1);
  EXPECT_EQ(backend.launches.back().parameters.size(), 0u);
}

TEST(HostProgramLaunch, KernelArgumentsPack) {
  FakeBackend backend;
  MemRefValue m = makeMemRef(backend, ElementKind::BF16, {2, 3, 4});
  Type type =
      Type::getMemRef(MemRefType{ElementKind::BF16, {2, 3, 4}, {12, 4, 1}, 0});
  Expected<KernelArguments> packed = KernelArguments::pack(
      {Value::getMemRef(m), Value::getInteger(-2), Value::getFloat(1.5)},
      {type, Type::getScalar(ScalarKind::I64),
       Type::getScalar(ScalarKind::F32)});
  ASSERT_OK(packed);
  ASSERT_EQ(packed->size(), 3u + 2u * 3u + 2u);
  // Moving keeps the pointers valid.
  KernelArguments moved = std::move(*packed);
  void *const *pointers = moved.getPointers().data();
  EXPECT_EQ(*static_cast<uint64_t *>(pointers[0]), m.allocation->getAddress());
  EXPECT_EQ(*static_cast<int64_t *>(pointers[4]), 3);
  EXPECT_EQ(*static_cast<int64_t *>(pointers[6]), 12);
  EXPECT_EQ(*static_cast<int64_t *>(pointers[9]), -2);
  EXPECT_EQ(*static_cast<float *>(pointers[10]), 1.5f);
  EXPECT_EQ(moved.getSize(10), 4u);
  // The memref's view, for a profile's bandwidth: sizes and element bytes.
  ASSERT_EQ(moved.getViews().size(), 1u);
  EXPECT_EQ(moved.getViews()[0].sizes, (SmallVector<int64_t, 4>{2, 3, 4}));
  EXPECT_EQ(moved.getViews()[0].elementBytes, 2u);
  EXPECT_EQ(moved.getViewBytes(), 2u * 3u * 4u * 2u);

  // A view of a larger buffer counts the view's elements only; scalars
  // count nothing.
  MemRefValue big = makeMemRef(backend, ElementKind::F32, {5, 6});
  MemRefValue slice = big;
  slice.sizes = {2, 6};
  slice.offset = 12;
  Type f32x2 = Type::getMemRef(
      MemRefType{ElementKind::F32, {kDynamic, 6}, {6, 1}, kDynamic});
  Expected<KernelArguments> two = KernelArguments::pack(
      {Value::getMemRef(slice), Value::getInteger(7), Value::getMemRef(m)},
      {f32x2, Type::getScalar(ScalarKind::I64), type});
  ASSERT_OK(two);
  ASSERT_EQ(two->getViews().size(), 2u);
  EXPECT_EQ(two->getViews()[0].sizes, (SmallVector<int64_t, 4>{2, 6}));
  EXPECT_EQ(two->getViews()[0].elementBytes, 4u);
  EXPECT_EQ(two->getViews()[1].sizes, (SmallVector<int64_t, 4>{2, 3, 4}));
  EXPECT_EQ(two->getViewBytes(), 2u * 6u * 4u + 2u * 3u * 4u * 2u);

  expectError(KernelArguments::pack({Value::getInteger(1)},
                                    {Type::getScalar(ScalarKind::I1)}),
              "kernel argument 0 is an i1");
  expectError(KernelArguments::pack({Value::getFloat(1)},
                                    {Type::getScalar(ScalarKind::I32)}),
              "kernel argument 0 does not hold a value of its type i32");
}

//===----------------------------------------------------------------------===//
// Hostile input
//===----------------------------------------------------------------------===//

/// Every JSON node of `value`, in a fixed (pre-)order.
void collectNodes(json::Value &value, std::vector<json::Value *> &nodes) {
  nodes.push_back(&value);
  if (json::Array *array = value.getAsArray())
    for (json::Value &element : *array)
      collectNodes(element, nodes);
  if (json::Object *object = value.getAsObject()) {
    std::vector<std::string> keys;
    for (auto &entry : *object)
      keys.push_back(entry.first.str());
    llvm::sort(keys);
    for (const std::string &key : keys)
      collectNodes(*object->get(key), nodes);
  }
}

TEST(HostProgramHostile, MutatedProgramsFailCleanly) {
  // Every node of a program that uses most ops, replaced in turn by values
  // of every JSON kind: parsing and running must fail with an Error or
  // succeed, never crash (run under sanitizers to be thorough).
  std::string x = memrefType("f32", "null, 8", "8, 1");
  std::string text = program(
      argument("x", x) + ", " + argument("n", scalar("index")),
      result("y", x) + ", " + result("k", scalar("i32")),
      R"({"op": "arith.constant", "results": [101],
          "types": [{"scalar": "index"}], "value": 0},
         {"op": "memref.dim", "operands": [0, 101], "results": [2],
          "types": [{"scalar": "index"}]},
         {"op": "memref.alloc", "operands": [2], "results": [3], "types": [)" +
          x + R"(]},
         {"op": "memref.copy", "operands": [0, 3]},
         {"op": "arith.cmpi", "operands": [1, 2], "results": [4],
          "types": [{"scalar": "i1"}], "predicate": "slt"},
         {"op": "arith.select", "operands": [4, 1, 2], "results": [5],
          "types": [{"scalar": "index"}]},
         {"op": "arith.index_cast", "operands": [5], "results": [6],
          "types": [{"scalar": "i32"}]},
         {"op": "memref.subview", "operands": [3, 5], "results": [7],
          "types": [)" +
          memrefType("f32", "null, 8", "8, 1", "0") +
          R"(], "static_offsets": [0, 0], "static_sizes": [null, 8],
          "static_strides": [1, 1]},
         {"op": "memref.collapse_shape", "operands": [7], "results": [8],
          "types": [)" +
          memrefType("f32", "null", "1") + R"(], "reassociation": [[0, 1]]},
         {"op": "memref.expand_shape", "operands": [8, 5], "results": [9],
          "types": [)" +
          memrefType("f32", "null, 8", "8, 1") +
          R"(], "reassociation": [[0, 1]], "static_output_shape": [null, 8]},
         {"op": "memref.reinterpret_cast", "operands": [9], "results": [10],
          "types": [)" +
          memrefType("f32", "2, 4", "4, 1", "0") +
          R"(], "static_offsets": [0], "static_sizes": [2, 4],
          "static_strides": [4, 1]},
         {"op": "scf.if", "operands": [4], "results": [11],
          "types": [{"scalar": "index"}],
          "then": {"body": [{"op": "arith.ceildivsi", "operands": [2, 5],
                             "results": [12],
                             "types": [{"scalar": "index"}]}],
                   "yield": [12]},
          "else": {"body": [], "yield": [2]}},
         {"op": "gpu.launch_func", "kernel": 1, "grid": [11, 11, 11],
          "block": [2, 11, 11], "shared_memory": null,
          "args": [10, 6, 5, 0]},
         {"op": "memref.dealloc", "operands": [7]},
         {"op": "func.return", "operands": [3, 6]})");
  Expected<json::Value> original = json::parse(text);
  ASSERT_OK(original);
  {
    Expected<HostProgram> parsed = HostProgram::parse(*original, kKernels);
    ASSERT_OK(parsed);
    FakeBackend backend;
    ASSERT_OK(execute(
        *parsed, backend,
        {Value::getMemRef(makeMemRef(backend, ElementKind::F32, {4, 8})),
         Value::getInteger(2)}));
    EXPECT_EQ(backend.launches.size(), 1u);
  }

  const json::Value replacements[] = {
      nullptr,
      true,
      -1,
      0,
      3,
      1e300,
      int64_t(INT64_MAX),
      int64_t(INT64_MIN),
      "x",
      json::Array(),
      json::Array{0, 0, 0},
      json::Object(),
  };
  json::Value copy = *original;
  std::vector<json::Value *> nodes;
  collectNodes(copy, nodes);
  size_t parsedCount = 0, ranCount = 0;
  for (size_t k = 0; k < nodes.size(); ++k) {
    for (const json::Value &replacement : replacements) {
      json::Value mutated = *original;
      std::vector<json::Value *> mutatedNodes;
      collectNodes(mutated, mutatedNodes);
      ASSERT_EQ(mutatedNodes.size(), nodes.size());
      *mutatedNodes[k] = replacement;
      Expected<HostProgram> parsed = HostProgram::parse(mutated, kKernels);
      if (!parsed) {
        consumeError(parsed.takeError());
        continue;
      }
      ++parsedCount;
      FakeBackend backend;
      Expected<std::vector<Value>> results = execute(
          *parsed, backend,
          {Value::getMemRef(makeMemRef(backend, ElementKind::F32, {4, 8})),
           Value::getInteger(2)});
      if (results)
        ++ranCount;
      else
        consumeError(results.takeError());
    }
  }
  // Most mutations are rejected; some (a different constant) still run.
  EXPECT_GT(nodes.size(), 100u);
  EXPECT_GT(parsedCount, 0u);
  EXPECT_GT(ranCount, 0u);
}

//===----------------------------------------------------------------------===//
// The CUDA backend (needs a GPU)
//===----------------------------------------------------------------------===//

/// y[i] = a * x[i] over two 1-D f32 memref descriptors (MLIR's expanded
/// form: allocated, aligned, offset, size, stride) and an f32.
constexpr const char *kScalePtx = R"(
.version 7.0
.target sm_80
.address_size 64

.visible .entry scale(
  .param .u64 x_allocated, .param .u64 x_aligned, .param .u64 x_offset,
  .param .u64 x_size, .param .u64 x_stride,
  .param .u64 y_allocated, .param .u64 y_aligned, .param .u64 y_offset,
  .param .u64 y_size, .param .u64 y_stride, .param .f32 a)
{
  .reg .pred %p;
  .reg .b32 %r<4>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<12>;

  ld.param.u64 %rd1, [x_aligned];
  ld.param.u64 %rd2, [x_offset];
  ld.param.u64 %rd3, [x_size];
  ld.param.u64 %rd4, [x_stride];
  ld.param.u64 %rd5, [y_aligned];
  ld.param.u64 %rd6, [y_offset];
  ld.param.u64 %rd7, [y_stride];
  ld.param.f32 %f1, [a];
  mov.u32 %r1, %ctaid.x;
  mov.u32 %r2, %ntid.x;
  mov.u32 %r3, %tid.x;
  mad.lo.s32 %r1, %r1, %r2, %r3;
  cvt.u64.u32 %rd8, %r1;
  setp.ge.u64 %p, %rd8, %rd3;
  @%p bra DONE;
  mad.lo.s64 %rd9, %rd8, %rd4, %rd2;
  shl.b64 %rd9, %rd9, 2;
  add.s64 %rd9, %rd1, %rd9;
  cvta.to.global.u64 %rd9, %rd9;
  ld.global.f32 %f2, [%rd9];
  mul.f32 %f2, %f2, %f1;
  mad.lo.s64 %rd10, %rd8, %rd7, %rd6;
  shl.b64 %rd10, %rd10, 2;
  add.s64 %rd10, %rd5, %rd10;
  cvta.to.global.u64 %rd10, %rd10;
  st.global.f32 [%rd10], %f2;
DONE:
  ret;
}
)";

TEST(HostProgramCuda, RunsAProgramOnTheGpu) {
  Expected<std::unique_ptr<CudaDriver>> driver = CudaDriver::load();
  if (!driver)
    GTEST_SKIP() << toString(driver.takeError());
  Expected<Context> context = Context::create(**driver);
  if (!context)
    GTEST_SKIP() << toString(context.takeError());

  std::vector<KernelRef> kernels = {{"scale_module", "scale", "scale.ptx"}};
  Expected<std::unique_ptr<CudaBackend>> backend = CudaBackend::create(
      *context, kernels,
      [](const KernelRef &) -> Expected<StringRef> { return kScalePtx; });
  ASSERT_OK(backend);

  // y = 2 * x[1:n] (a view with a non-zero offset), then copied, via the
  // pool.
  std::string dyn = memrefType("f32", "null", "1");
  Expected<json::Value> json = json::parse(program(
      argument("x", dyn), result("y", dyn),
      R"({"op": "arith.constant", "results": [1], "types": [{"scalar": "index"}],
          "value": 0},
         {"op": "arith.constant", "results": [2], "types": [{"scalar": "index"}],
          "value": 1},
         {"op": "arith.constant", "results": [3], "types": [{"scalar": "index"}],
          "value": 128},
         {"op": "arith.constant", "results": [4], "types": [{"scalar": "f32"}],
          "value": 2.0},
         {"op": "memref.dim", "operands": [0, 1], "results": [5],
          "types": [{"scalar": "index"}]},
         {"op": "arith.subi", "operands": [5, 2], "results": [6],
          "types": [{"scalar": "index"}]},
         {"op": "memref.subview", "operands": [0, 6], "results": [7],
          "types": [)" +
          memrefType("f32", "null", "1", "1") +
          R"(], "static_offsets": [1], "static_sizes": [null],
          "static_strides": [1]},
         {"op": "memref.alloc", "operands": [6], "results": [8],
          "types": [)" +
          dyn + R"(]},
         {"op": "arith.ceildivsi", "operands": [6, 3], "results": [9],
          "types": [{"scalar": "index"}]},
         {"op": "gpu.launch_func", "kernel": 0, "grid": [9, 2, 2],
          "block": [3, 2, 2], "shared_memory": null, "args": [7, 8, 4]},
         {"op": "memref.alloc", "operands": [6], "results": [10],
          "types": [)" +
          dyn + R"(]},
         {"op": "memref.copy", "operands": [8, 10]},
         {"op": "func.return", "operands": [10]})"));
  ASSERT_OK(json);
  Expected<HostProgram> parsed = HostProgram::parse(*json, kernels);
  ASSERT_OK(parsed);

  constexpr int64_t n = 100001;
  Expected<MemRefValue> x = allocateMemRef(**backend, ElementKind::F32, {n});
  ASSERT_OK(x);
  std::vector<float> input(n);
  for (int64_t i = 0; i < n; ++i)
    input[i] = float(i) - 5000.0f;
  ASSERT_FALSE(errorToBool((*backend)->copyFromHost(
      *x->allocation, 0, input.data(), n * sizeof(float))));

  size_t cachedAfterFirstRun = 0;
  for (int run = 0; run < 2; ++run) {
    Expected<std::vector<Value>> results =
        execute(*parsed, **backend, {Value::getMemRef(*x)});
    ASSERT_OK(results);
    const MemRefValue &y = (*results)[0].getMemRef();
    ASSERT_EQ(y.sizes[0], n - 1);
    ASSERT_FALSE(errorToBool((*backend)->synchronize()));
    std::vector<float> out(n - 1);
    ASSERT_FALSE(errorToBool((*backend)->copyToHost(
        out.data(), *y.allocation, 0, (n - 1) * sizeof(float))));
    int mismatches = 0;
    for (int64_t i = 0; i + 1 < n; ++i)
      mismatches += out[i] != 2.0f * input[i + 1];
    EXPECT_EQ(mismatches, 0);
    results->clear();
    // Both buffers are back in the pool; the second run takes them again.
    if (run == 0)
      cachedAfterFirstRun = (*backend)->getCachedBytes();
    else
      EXPECT_EQ((*backend)->getCachedBytes(), cachedAfterFirstRun);
  }
  // Two buffers of n - 1 floats (400000 bytes), in 512 KiB buckets.
  EXPECT_EQ(cachedAfterFirstRun, 2u * (512u << 10));
  (*backend)->releaseCached();
  EXPECT_EQ((*backend)->getCachedBytes(), 0u);

  // A missing kernel is reported with its module.
  std::vector<KernelRef> missing = {{"scale_module", "nope", "scale.ptx"}};
  expectError(CudaBackend::create(*context, missing,
                                  [](const KernelRef &) -> Expected<StringRef> {
                                    return kScalePtx;
                                  }),
              "kernel module 'scale_module': looking up kernel 'nope'");
}

} // namespace

namespace {
// The op table, the interpreter's names and docs/host-program.md agree.
TEST(HostOps, DocumentedInHostProgramMd) {
  std::string path = std::string(XLSTM_SOURCE_DIR) + "/docs/host-program.md";
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> docs =
      llvm::MemoryBuffer::getFile(path);
  ASSERT_TRUE(bool(docs)) << path;
  llvm::StringRef text = (*docs)->getBuffer();
  std::vector<std::pair<xlstm::runtime::OpKind, llvm::StringRef>> ops = {
#define HOST_OP(Kind, Name, Category)                                          \
  {xlstm::runtime::OpKind::Kind, Name},
#include "xlstm/Runtime/HostOps.def"
  };
  EXPECT_EQ(ops.size(), 38u);
  for (auto [kind, name] : ops) {
    EXPECT_EQ(xlstm::runtime::getName(kind), name);
    EXPECT_TRUE(text.contains(("`" + name + "`").str()))
        << name.str() << " is not documented in docs/host-program.md";
  }
}
} // namespace
