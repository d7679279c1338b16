/* Learning-rate schedules: warmup, constant, step and cosine values. */
#include <math.h>
#include <string.h>

#include "shardnet/schedule.h"
#include "sn_test.h"

static sn_schedule make(const char *text, double base, long per_epoch, long total) {
  sn_args *a = NULL;
  sn_schedule s;
  memset(&s, 0, sizeof s);
  CU_ASSERT_EQUAL_FATAL(sn_args_from_string(text, &a), SN_OK);
  CU_ASSERT_EQUAL(sn_schedule_parse(a, base, per_epoch, total, &s), SN_OK);
  sn_args_free(a);
  return s;
}

static void test_constant_and_warmup(void) {
  sn_schedule s = make("type=constant", 0.1, 10, 100);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 0), 0.1, 1e-15);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 99), 0.1, 1e-15);
  /* 2 warmup epochs of 10 steps, from 10% of the rate up to all of it */
  s = make("type=constant warmup_epochs=2", 0.1, 10, 100);
  CU_ASSERT_EQUAL(s.warmup_steps, 20);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 0), 0.1 * (0.1 + 0.9 * 1.0 / 20), 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 9), 0.1 * (0.1 + 0.9 * 10.0 / 20), 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 19), 0.1, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 20), 0.1, 1e-12);
}

static void test_step(void) {
  sn_schedule s = make("type=step step_epochs=3 gamma=0.5", 1.0, 10, 100);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 29), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 30), 0.5, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 60), 0.25, 1e-12);
}

static void test_cosine(void) {
  sn_schedule s = make("type=cosine min_lr=0.01", 1.0, 10, 101);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 0), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 50), 0.01 + 0.99 * 0.5, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 100), 0.01, 1e-12);
  /* with warmup the cosine starts where the warmup ends */
  s = make("type=cosine warmup_steps=10", 1.0, 10, 111);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 9), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 10), 1.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(sn_schedule_lr(&s, 60), 0.5, 1e-12);
  CU_ASSERT(sn_schedule_lr(&s, 110) < 1e-12);
}

static void test_errors(void) {
  sn_args *a = NULL;
  sn_schedule s;
  CU_ASSERT_EQUAL_FATAL(sn_args_from_string("type=cosin", &a), SN_OK);
  CU_ASSERT_EQUAL(sn_schedule_parse(a, 1.0, 10, 100, &s), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "must be one of constant, step, cosine, got 'cosin'"));
  sn_args_free(a);
  CU_ASSERT_EQUAL_FATAL(sn_args_from_string("type=step gama=0.5", &a), SN_OK);
  CU_ASSERT_EQUAL(sn_schedule_parse(a, 1.0, 10, 100, &s), SN_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(sn_last_error(), "key 'gama' is not a known key"));
  sn_args_free(a);
}

int main(void) {
  const sn_test_case cases[] = {{"constant rate and linear warmup", test_constant_and_warmup},
                                {"step decay", test_step},
                                {"cosine decay, after warmup", test_cosine},
                                {"bad schedule keys name the key", test_errors},
                                {NULL, NULL}};
  return sn_test_main("schedule", cases);
}
