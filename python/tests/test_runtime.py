"""Tests of the Python bindings (python/xlstm): the tokenizer against the
GPT-NeoX golden lines, input checks, and models: on a machine without a GPU
loading a bundle is a clean xlstm.Error; with one, shapes and generation.

Run by ctest (python/runtime) with XLSTM_RUNTIME_LIB, XLSTMC and
XLSTM_SOURCE_DIR set; `python3 -m unittest discover python/tests` by hand.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import xlstm  # noqa: E402

SOURCE = os.environ.get("XLSTM_SOURCE_DIR",
                        os.path.join(os.path.dirname(__file__), "..", ".."))
NEOX = os.path.join(SOURCE, "..", "shared", "tokenizers", "gpt-neox-20b")


class TokenizerTest(unittest.TestCase):
    @unittest.skipUnless(os.path.isdir(NEOX), "no ../shared/tokenizers")
    def test_golden_lines(self):
        tok = xlstm.Tokenizer(os.path.join(NEOX, "tokenizer.json"))
        with open(os.path.join(NEOX, "encode-golden.jsonl"),
                  encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(len(lines), 20)
        for case in lines:
            ids = tok.encode(case["text"])
            self.assertEqual(ids.dtype, np.int64)
            self.assertEqual(ids.tolist(), case["ids"], case["text"])
            self.assertEqual(tok.decode(ids), case["decoded"])

    def test_missing_file_is_an_error(self):
        with self.assertRaises(xlstm.Error) as e:
            xlstm.Tokenizer("/no/such/tokenizer.json")
        self.assertIn("/no/such/tokenizer.json", str(e.exception))


class InputCheckTest(unittest.TestCase):
    def test_tokens(self):
        a = xlstm._tokens([[1, 2, 3]], "x")
        self.assertEqual(a.dtype, np.int64)
        self.assertTrue(a.flags["C_CONTIGUOUS"])
        with self.assertRaises(ValueError):
            xlstm._tokens([[1.5, 2.0]], "x")
        with self.assertRaises(ValueError):
            xlstm._tokens([1, 2, 3], "x")
        with self.assertRaises(ValueError):
            xlstm._tokens(np.zeros((1, 0), dtype=np.int64), "x")

    def test_embeddings(self):
        self.assertEqual(xlstm._embeddings(np.ones((2, 3, 4)), 4, "x").dtype,
                         np.float32)
        with self.assertRaises(ValueError):
            xlstm._embeddings(np.ones((2, 3, 5)), 4, "x")


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bundle = os.environ.get("XLSTM_TEST_BUNDLE")
        xlstmc = os.environ.get("XLSTMC")
        if not cls.bundle and xlstmc:
            cls.bundle = os.path.join(cls.tmp.name, "readme_lm.xlstmb")
            subprocess.run([xlstmc, os.path.join(SOURCE, "python-free-configs",
                                                 "readme_lm.yaml"),
                            "--cubins=none", "--quiet", "-o", cls.bundle],
                           check=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_missing_bundle_is_an_error(self):
        with self.assertRaises(xlstm.Error) as e:
            xlstm.Model("/no/such/model.xlstmb")
        self.assertIn("/no/such/model.xlstmb", str(e.exception))

    def test_bad_dtype_is_an_error(self):
        with self.assertRaises(xlstm.Error) as e:
            xlstm.Model("m.xlstmb", dtype="f64")
        self.assertIn("dtype", str(e.exception))

    def test_load_run_or_clean_error(self):
        if not self.bundle:
            self.skipTest("no bundle (set XLSTMC or XLSTM_TEST_BUNDLE)")
        try:
            model = xlstm.Model(self.bundle, dtype="f32")
        except xlstm.Error as e:
            # No GPU here: the runtime says so instead of crashing.
            self.assertRegex(str(e), "(?i)cuda|driver|device")
            return
        model.set_weights(seed=1)
        self.assertTrue(model.takes_tokens)
        rng = np.random.default_rng(3)
        tokens = rng.integers(0, model.output_width, size=(2, 9))
        out = model.forward(tokens)
        self.assertEqual(out.shape, (2, 9, model.output_width))
        self.assertTrue(np.isfinite(out).all())
        state = model.state(2)
        last = model.prefill(tokens, state)
        np.testing.assert_allclose(last, out[:, -1], rtol=1e-4, atol=1e-4)
        step = model.step(tokens[:, :1], state)
        self.assertEqual(step.shape, (2, model.output_width))
        ids = model.generate(tokens[0], max_new_tokens=5)
        self.assertEqual(ids.shape, (5,))


if __name__ == "__main__":
    unittest.main()
