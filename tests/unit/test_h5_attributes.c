/* String attributes and what their variable-length values claim (io/h5util.c,
 * io/h5_vlen_claims.c): the claims are read from the stored descriptors, so a file
 * whose 4-byte length claims a gigabyte is refused in one line without the gigabyte
 * being allocated. Runs as a singleton MPI process (no launcher). */
#define _GNU_SOURCE  /* memmem */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "io/h5util.h"
#include "sn_test.h"

static char path[64];

static hid_t create_file(void) {
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  return file;
}

static sn_h5_vlen_claims claims_of(hid_t obj, const char *name, int *status) {
  sn_h5_vlen_claims claims = {99, 99, 99};
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  CU_ASSERT_FATAL(attr >= 0);
  *status = sn_h5_attr_vlen_claims(attr, &claims);
  H5Aclose(attr);
  return claims;
}

static void write_attr(hid_t obj, const char *name, hid_t type, const void *data) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  CU_ASSERT_FATAL(attr >= 0 && H5Awrite(attr, type, data) >= 0);
  H5Aclose(attr);
  H5Sclose(space);
}

static void test_claims_of_written_values(void) {
  hid_t file = create_file();
  const char *names[] = {"conv1", "bn", ""};
  CU_ASSERT_FATAL(sn_h5_write_strings_attr(file, "layer_names", names, 3) == SN_OK);
  CU_ASSERT_FATAL(sn_h5_write_string_attr(file, "format", "shardnet-dataset") == SN_OK);
  CU_ASSERT_FATAL(sn_h5_write_int_attr(file, "step", 7) == SN_OK);
  hid_t fixed = H5Tcopy(H5T_C_S1);
  H5Tset_size(fixed, 5);
  write_attr(file, "fixed", fixed, "abcde");
  /* a sequence of 3 int32: 12 bytes claimed */
  hid_t ints = H5Tvlen_create(H5T_NATIVE_INT32);
  int32_t values[3] = {1, 2, 3};
  hvl_t seq = {3, values};
  write_attr(file, "sequence", ints, &seq);
  /* a compound holding a string of variable length: its claims are not looked into */
  hid_t text = H5Tcopy(H5T_C_S1);
  H5Tset_size(text, H5T_VARIABLE);
  hid_t pair = H5Tcreate(H5T_COMPOUND, sizeof(char *));
  H5Tinsert(pair, "text", 0, text);
  const char *word = "hello";
  write_attr(file, "nested", pair, &word);

  int status;
  sn_h5_vlen_claims c = claims_of(file, "layer_names", &status);
  CU_ASSERT(status == 0 && c.largest == 5 && c.total == 7);
  c = claims_of(file, "format", &status);
  CU_ASSERT(status == 0 && c.largest == 16 && c.total == 16);
  c = claims_of(file, "step", &status);
  CU_ASSERT(status == 0 && c.largest == 0 && c.total == 0);
  c = claims_of(file, "fixed", &status);
  CU_ASSERT(status == 0 && c.largest == 0 && c.total == 0);
  c = claims_of(file, "sequence", &status);
  CU_ASSERT(status == 0 && c.largest == 12 && c.total == 12);
  claims_of(file, "nested", &status);
  CU_ASSERT_EQUAL(status, -1);

  /* the values themselves still read back after their claims were taken */
  char buf[64];
  CU_ASSERT(sn_h5_read_string_attr(file, "format", buf, sizeof buf, 1) == SN_OK && !strcmp(buf, "shardnet-dataset"));
  char **read = NULL;
  int n = 0;
  CU_ASSERT_FATAL(sn_h5_read_strings_attr(file, "layer_names", &read, &n) == SN_OK && n == 3);
  CU_ASSERT(!strcmp(read[0], "conv1") && !strcmp(read[1], "bn") && !strcmp(read[2], ""));
  for (int i = 0; i < n; i++) free(read[i]);
  free(read);
  /* a real string longer than the buffer is refused before it is read */
  char small[8];
  CU_ASSERT_EQUAL(sn_h5_read_string_attr(file, "format", small, sizeof small, 1), SN_ERR_FORMAT);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "attribute 'format' is a string of 16 bytes, more than the 7 accepted"));
  H5Tclose(pair);
  H5Tclose(text);
  H5Tclose(ints);
  H5Tclose(fixed);
  H5Fclose(file);
}

/* The test file's bytes. */
static unsigned char *slurp(size_t *size) {
  FILE *f = fopen(path, "rb");
  CU_ASSERT_FATAL(f != NULL);
  fseek(f, 0, SEEK_END);
  *size = (size_t)ftell(f);
  rewind(f);
  unsigned char *bytes = malloc(*size);
  CU_ASSERT_FATAL(bytes && fread(bytes, 1, *size, f) == *size);
  fclose(f);
  return bytes;
}

static void write_back(const unsigned char *bytes, size_t size) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_FATAL(f && fwrite(bytes, 1, size, f) == size);
  fclose(f);
}

/* The file's only variable-length value, "shardnet-dataset": its descriptor is its
 * length (16), the address of the global heap collection ("GCOL") and the object's
 * index (1). */
static unsigned char *descriptor(unsigned char *bytes, size_t size) {
  const unsigned char *heap = memmem(bytes, size, "GCOL", 4);
  CU_ASSERT_FATAL(heap != NULL);
  const uint64_t address = (uint64_t)(heap - bytes);
  unsigned char stored[16] = {16, 0, 0, 0};
  for (int b = 0; b < 8; b++) stored[4 + b] = (unsigned char)(address >> (8 * b));
  stored[12] = 1;
  unsigned char *at = memmem(bytes, size, stored, sizeof stored);
  CU_ASSERT_FATAL(at != NULL);
  return at;
}

static void put_le(unsigned char *at, uint64_t value, int bytes) {
  for (int b = 0; b < bytes; b++) at[b] = (unsigned char)(value >> (8 * b));
}

/* Rewrites the stored length of the file's only variable-length value. */
static void claim_length(uint32_t length) {
  size_t size;
  unsigned char *bytes = slurp(&size);
  put_le(descriptor(bytes, size), length, 4);
  write_back(bytes, size);
  free(bytes);
}

/* Points the file's only variable-length value at another heap object index. */
static void point_at_index(uint32_t index) {
  size_t size;
  unsigned char *bytes = slurp(&size);
  put_le(descriptor(bytes, size) + 12, index, 4);
  write_back(bytes, size);
  free(bytes);
}

/* Rewrites the size of heap object `nth` (0 the first) in the file's collection: its
 * header is the index (2 bytes), a reference count (2), 4 reserved and the size (8). */
static void heap_object_size(int nth, uint64_t object_size) {
  size_t size;
  unsigned char *bytes = slurp(&size);
  unsigned char *object = (unsigned char *)memmem(bytes, size, "GCOL", 4) + 16;
  for (int k = 0; k < nth; k++) {
    uint64_t skip = 0;
    for (int b = 0; b < 8; b++) skip |= (uint64_t)object[8 + b] << (8 * b);
    object += 16 + ((skip + 7) & ~(uint64_t)7);
  }
  put_le(object + 8, object_size, 8);
  write_back(bytes, size);
  free(bytes);
}

static long peak_kib(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

static void test_a_crafted_length_is_refused_unallocated(void) {
  hid_t file = create_file();
  CU_ASSERT_FATAL(sn_h5_write_string_attr(file, "format", "shardnet-dataset") == SN_OK);
  H5Fclose(file);
  claim_length(1u << 30);

  const long before = peak_kib();
  /* the preflight child reads every attribute it can: it must not take the claim either */
  CU_ASSERT_EQUAL(sn_h5_preflight(path), SN_OK);
  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  int status;
  sn_h5_vlen_claims c = claims_of(file, "format", &status);
  CU_ASSERT(status == 0 && c.largest == 1u << 30);
  char buf[64];
  CU_ASSERT_EQUAL(sn_h5_read_string_attr(file, "format", buf, sizeof buf, 1), SN_ERR_FORMAT);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(sn_last_error(), "attribute 'format' is a string of 1073741824 bytes, more than the 63 accepted"));
  H5Fclose(file);
  /* libhdf5 would have allocated and cleared the gigabyte before finding 16 bytes */
  CU_ASSERT(peak_kib() - before < 256 * 1024);
}

/* Damaged heaps, as fuzz/fuzz_checkpoint found them: libhdf5 1.10 copies the object
 * its descriptor points at whole, into a buffer of the claimed length, and never
 * checks that the index was stored or that the object fits its collection. */
static void test_heap_objects_must_match_their_descriptors(void) {
  static const struct {
    const char *what;
    int nth;           /* heap object whose size is rewritten, or -1 */
    uint64_t size;
    uint32_t index;    /* index the descriptor points at, or 0 to keep */
  } cases[] = {
      {"an index never stored", -1, 0, 300},
      {"an object larger than its collection", 0, 12000, 0},
      {"an object longer than its claim", 0, 24, 0},
      {"an object shorter than its claim", 0, 8, 0},
      {"a free-space header of size 0 (libhdf5 reads it forever)", 1, 0, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    hid_t file = create_file();
    CU_ASSERT_FATAL(sn_h5_write_string_attr(file, "format", "shardnet-dataset") == SN_OK);
    H5Fclose(file);
    if (cases[k].nth >= 0) heap_object_size(cases[k].nth, cases[k].size);
    if (cases[k].index) point_at_index(cases[k].index);
    /* the preflight child leaves it unread too: nothing to crash or hang on */
    CU_ASSERT_EQUAL(sn_h5_preflight(path), SN_OK);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(file >= 0);
    int status;
    sn_h5_vlen_claims c = claims_of(file, "format", &status);
    if (status != 0 || c.damaged != 1) printf("\n  not seen as damaged: %s\n", cases[k].what);
    CU_ASSERT(status == 0 && c.damaged == 1 && c.largest == 16);
    char buf[64];
    CU_ASSERT_EQUAL(sn_h5_read_string_attr(file, "format", buf, sizeof buf, 1), SN_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "attribute 'format' is damaged: its variable-length value "
                                                   "does not match the global heap object it points to"));
    H5Fclose(file);
  }
}

/* The heap is looked up where it is: after a user block, for an empty string, for
 * several values in one collection; a file open for writing is not looked into. */
static void test_undamaged_heaps_read_back(void) {
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_userblock(fcpl, 512);
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  CU_ASSERT_FATAL(file >= 0);
  const char *names[] = {"conv1", "", "a longer name than the others"};
  CU_ASSERT_FATAL(sn_h5_write_strings_attr(file, "layer_names", names, 3) == SN_OK);
  CU_ASSERT_FATAL(sn_h5_write_string_attr(file, "format", "shardnet-dataset") == SN_OK);
  CU_ASSERT_FATAL(sn_h5_write_string_attr(file, "empty", "") == SN_OK);
  hid_t ints = H5Tvlen_create(H5T_NATIVE_INT32);
  int32_t values[3] = {1, 2, 3};
  hvl_t seq = {3, values};
  write_attr(file, "sequence", ints, &seq);
  H5Tclose(ints);
  int status;
  CU_ASSERT(claims_of(file, "format", &status).damaged == 0 && status == 0);  /* open for writing */
  H5Fclose(file);

  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CU_ASSERT_FATAL(file >= 0);
  const char *attrs[] = {"layer_names", "format", "empty", "sequence"};
  for (int a = 0; a < 4; a++) {
    sn_h5_vlen_claims c = claims_of(file, attrs[a], &status);
    CU_ASSERT(status == 0 && c.damaged == 0);
  }
  char buf[64];
  CU_ASSERT(sn_h5_read_string_attr(file, "format", buf, sizeof buf, 1) == SN_OK && !strcmp(buf, "shardnet-dataset"));
  CU_ASSERT(sn_h5_read_string_attr(file, "empty", buf, sizeof buf, 1) == SN_OK && !strcmp(buf, ""));
  char **read = NULL;
  int n = 0;
  CU_ASSERT_FATAL(sn_h5_read_strings_attr(file, "layer_names", &read, &n) == SN_OK && n == 3);
  CU_ASSERT(!strcmp(read[0], "conv1") && !strcmp(read[1], "") && !strcmp(read[2], names[2]));
  for (int i = 0; i < n; i++) free(read[i]);
  free(read);
  H5Fclose(file);
}

int main(void) {
  sn_h5_quiet();
  snprintf(path, sizeof path, "/tmp/sn-h5-attributes-%d.h5", (int)getpid());
  const sn_test_case cases[] = {
      {"claims of strings, lists, sequences and plain values; nested ones are not told", test_claims_of_written_values},
      {"a value claiming 1 GiB is refused without the GiB being allocated", test_a_crafted_length_is_refused_unallocated},
      {"a value whose heap object is missing, too large or of another length is refused unread",
       test_heap_objects_must_match_their_descriptors},
      {"undamaged heaps read back: after a user block, empty strings, several values",
       test_undamaged_heaps_read_back},
      {NULL, NULL}};
  const int code = sn_test_main("HDF5 attributes", cases);
  unlink(path);
  return code;
}
