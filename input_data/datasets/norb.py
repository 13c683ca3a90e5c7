"""smallNORB: the stereo pairs of input_data/norb/smallnorb_convert.py's
records, 32x32 crops of the 48x48 resized pair."""

from input_data import dataset_spec


def build(config, split):
  from input_data.norb import norb_input_record  # pylint: disable=g-import-not-at-top
  return norb_input_record.norb_source(config.data_dir, split)


DATASET = dataset_spec.DatasetSpec(
    name='norb', summary='smallNORB records of input_data/norb/'
    'smallnorb_convert.py (32x32 crops of both cameras)', build=build,
    shape=dataset_spec.Shape(32, 32, 2, 5), served=False)
