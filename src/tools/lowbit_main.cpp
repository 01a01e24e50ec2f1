// Placeholder main; the CLI (inspect, run, bench, ops) is being written.
#include <iostream>
int main() { std::cerr << "lowbit: CLI not built yet\n"; return 1; }
