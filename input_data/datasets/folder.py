"""One's own images in a folder: DIR/train/CLASS/* (and DIR/test/CLASS/*)."""

from input_data import dataset_spec


def build(config, split):
  from input_data.own import folder_input  # pylint: disable=g-import-not-at-top
  return folder_input.folder_source(config, split)


DATASET = dataset_spec.DatasetSpec(
    name='folder', summary='one\'s own images, --data_dir=DIR holding '
    'train/CLASS/* and test/CLASS/* (or --holdout) PNG, JPEG, BMP or GIF '
    'files (docs/own_data.md)', build=build, validate=True)
