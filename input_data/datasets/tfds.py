"""Any tensorflow-datasets image classification set prepared in a TFDS
data directory: --dataset=tfds:NAME[/CONFIG][:VERSION] --data_dir=DIR."""

from input_data import dataset_spec


def build(config, split):
  from input_data.own import tfds_input  # pylint: disable=g-import-not-at-top
  return tfds_input.tfds_source(config, split)


DATASET = dataset_spec.DatasetSpec(
    name='tfds', summary='a tensorflow-datasets image classification set '
    'prepared in --data_dir (never downloaded; docs/own_data.md)',
    build=build, validate=True, argument=True)
