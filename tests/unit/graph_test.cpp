#include "ir/graph.h"

#include <gtest/gtest.h>

#include "ir/shape_inference.h"
#include "ops/op_table.h"

#include <set>

using namespace lowbit;

namespace {
Node make_node(std::string name, std::string op, std::vector<std::string> in, std::vector<std::string> out) {
  Node n;
  n.name = std::move(name);
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}
}  // namespace

TEST(Graph, TopologicalSortReordersNodes) {
  Graph g;
  g.nodes.push_back(make_node("second", "Relu", {"a"}, {"b"}));
  g.nodes.push_back(make_node("first", "Relu", {"x"}, {"a"}));
  ASSERT_TRUE(topological_sort(g).ok());
  EXPECT_EQ(g.nodes[0].name, "first");
  EXPECT_EQ(g.nodes[1].name, "second");
  EXPECT_EQ(g.find("b")->producer, 1);
}

TEST(Graph, CycleIsReportedWithNodeNames) {
  Graph g;
  g.nodes.push_back(make_node("n1", "Relu", {"b"}, {"a"}));
  g.nodes.push_back(make_node("n2", "Relu", {"a"}, {"b"}));
  Status s = topological_sort(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cycle"), std::string::npos);
  EXPECT_NE(s.message().find("n1"), std::string::npos);
  EXPECT_NE(s.message().find("n2"), std::string::npos);
}

TEST(Graph, DuplicateProducerIsReported) {
  Graph g;
  g.nodes.push_back(make_node("n1", "Relu", {"x"}, {"a"}));
  g.nodes.push_back(make_node("n2", "Relu", {"x"}, {"a"}));
  Status s = topological_sort(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("produced by both"), std::string::npos);
}

TEST(ShapeInference, ReportsEveryProblemAtOnce) {
  Graph g;
  g.opset = 13;
  g.inputs = {"x"};
  g.values["x"] = ValueInfo{"x", ValueType(DType::kFloat32, {Dim::symbol("batch"), 3}), std::nullopt, false, -1};
  g.nodes.push_back(make_node("lstm", "LSTM", {"x"}, {"a"}));
  Node custom = make_node("custom", "Foo", {"x"}, {"b"});
  custom.domain = "com.example";
  g.nodes.push_back(custom);
  g.nodes.push_back(make_node("dangling", "Relu", {"nowhere"}, {"c"}));
  g.outputs = {"a", "b", "c", "never"};
  ASSERT_TRUE(topological_sort(g).ok());
  auto issues = validate_and_infer(g);
  Status s = issues_to_status(issues, "'test.onnx'");
  ASSERT_FALSE(s.ok());
  const std::string& m = s.message();
  EXPECT_NE(m.find("LSTM 'lstm'"), std::string::npos) << m;
  EXPECT_NE(m.find("hint"), std::string::npos) << m;
  EXPECT_NE(m.find("com.example"), std::string::npos) << m;
  EXPECT_NE(m.find("'nowhere'"), std::string::npos) << m;
  EXPECT_NE(m.find("'never'"), std::string::npos) << m;
  EXPECT_EQ(issues.size(), 4u) << m;
}

TEST(ShapeInference, OpsetOutsideAnOpsRangeIsUnsupported) {
  EXPECT_NE(unsupported_reason("", "Upsample", 11).find("Resize"), std::string::npos);
  EXPECT_NE(unsupported_reason("", "HardSwish", 13).find("from opset 14"), std::string::npos);
  EXPECT_EQ(unsupported_reason("", "Conv", 11), "");
}

TEST(OpTable, EveryOpIsListedOnceAndDocumented) {
  std::set<std::string> names;
  for (auto& op : op_table()) {
    EXPECT_TRUE(names.insert(op.name).second) << op.name;
    EXPECT_LE(op.since_opset, op.until_opset) << op.name;
    EXPECT_NE(operators_markdown().find(std::string("| ") + op.name + " |"), std::string::npos) << op.name;
  }
  EXPECT_GE(names.size(), 80u);
}
