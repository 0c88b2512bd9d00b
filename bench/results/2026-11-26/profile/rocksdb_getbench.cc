// Random point Gets on the resources CF of a regionlab store, with the store's
// table options (A) and alternatives. Scratch experiment, not part of the repo.
#include <rocksdb/db.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <chrono>
#include <iostream>
#include <random>
int main(int argc, char** argv) {
  std::string path = argv[1];
  std::string variant = argv[2];
  rocksdb::DBOptions o;
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 16 << 20;
  rocksdb::BlockBasedTableOptions t;
  t.cache_index_and_filter_blocks = true;  // as storage/store.cc
  if (variant == "no-cache-index") t.cache_index_and_filter_blocks = false;
  if (variant == "bigcache") t.block_cache = rocksdb::NewLRUCache(64 << 20, 2);
  if (variant == "pin") { t.block_cache = rocksdb::NewLRUCache(64 << 20, 2); t.pin_l0_filter_and_index_blocks_in_cache = true; t.cache_index_and_filter_blocks_with_high_priority = true; }
  if (variant == "bloom") { t.cache_index_and_filter_blocks = false; t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10)); }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  std::vector<rocksdb::ColumnFamilyDescriptor> d = {{"default", cf}, {"resources", cf}, {"log", cf}};
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* db;
  auto s = rocksdb::DB::OpenForReadOnly(o, path, d, &h, &db);
  if (!s.ok()) { std::cerr << s.ToString() << "\n"; return 1; }
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h[1]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
  std::mt19937_64 rng(1);
  int n = 20000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    rocksdb::PinnableSlice v;
    s = db->Get(rocksdb::ReadOptions(), h[1], keys[rng() % keys.size()], &v);
    if (!s.ok()) { std::cerr << s.ToString() << "\n"; return 1; }
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  std::cout << variant << ": " << keys.size() << " keys, " << us << " us/Get\n";
}
