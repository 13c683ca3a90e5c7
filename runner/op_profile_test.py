"""The profiler's trace, read and grouped."""

from absl.testing import parameterized
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from runner import op_profile


def _space(lines):
  """An XSpace of one plane: {line name: [(event name, duration ms)]}."""
  space = xplane_pb2.XSpace()
  plane = space.planes.add(name='/host:CPU')
  ids = {}
  for line_name, events in lines.items():
    line = plane.lines.add(name=line_name)
    for name, ms in events:
      if name not in ids:
        ids[name] = len(ids) + 1
        plane.event_metadata[ids[name]].name = name
      line.events.add(metadata_id=ids[name], duration_ps=int(ms * 1e9))
  return space


class GroupTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      ('gradient_tape/Conv2DBackpropFilter', '_MklNativeConv2DBackpropFilter',
       'convolutions backward'),
      ('Conv2DBackpropInput', '_MklNativeConv2DBackpropInput',
       'convolutions backward'),
      ('conv_gradient/Conv2D', '_MklNativeConv2D', 'convolutions backward'),
      ('Conv2D_1', '_MklNativeConv2D', 'convolutions forward'),
      ('Relu', '_MklNativeFusedConv2D', 'convolutions forward'),
      ('IteratorGetNext', 'IteratorGetNext', 'input'),
      ('gradient_tape/Cast_3/Cast', 'Cast', 'casts'),
      ('adam/SelectV2_2', 'SelectV2', 'optimizer'),
      ('xla', 'XLA', 'votes and routing (XLA)'),
      ('capsule2/einsum/Einsum', '_MklEinsum', 'votes and routing'),
      ('gradient_tape/capsule2_1/transpose', '_MklTranspose',
       'votes and routing'),
      ('recons/recons_1/MatMul', '_MklMatMul', 'decoder'),
      ('gradient_tape/losses/Square', 'Square', 'losses'),
      ('my_capsule2/mul', 'Mul', 'other'),
      ('capsule2_x/mul', 'Mul', 'other'))
  def test_group_of(self, name, kind, group):
    self.assertEqual(op_profile.group_of(name, kind), group)

  def test_op_times_and_groups_from_a_trace(self):
    space = _space({
        'tf_Compute/1': [('Conv2D_1:_MklNativeConv2D', 2.0),
                         ('ExecutorState::Process', 10.0),
                         ('adam/mul:Mul', 0.5),
                         ('Conv2D_1:_MklNativeConv2D', 4.0)],
        'tf_Compute/2': [('CpuExecutable::ExecuteAsyncOnStream', 3.0),
                         ('ThreadpoolListener::Record', 1.0)],
        'python': [('train_steps', 20.0)],
        'tf_numa_-1_Eigen/3': [('fusion.1', 7.0)]})
    times = op_profile.op_times(space)
    self.assertEqual(dict(times), {
        ('Conv2D_1', '_MklNativeConv2D'): 6.0, ('adam/mul', 'Mul'): 0.5,
        ('xla', 'XLA'): 3.0})
    groups = op_profile.by_group(times, steps=2)
    self.assertEqual(list(groups), [g for g, _ in op_profile.GROUPS])
    self.assertEqual({k: v for k, v in groups.items() if v}, {
        'convolutions forward': 3.0, 'optimizer': 0.25,
        'votes and routing (XLA)': 1.5})

  def test_a_real_trace(self):
    x = tf.random.stateless_normal([4, 8, 8, 3], seed=[1, 2])
    kernel = tf.random.stateless_normal([3, 3, 3, 2], seed=[3, 4])

    @tf.function
    def step():
      with tf.name_scope('adam'):
        y = tf.nn.conv2d(x, kernel, 1, 'VALID')
        return tf.reduce_sum(tf.cast(y, tf.bfloat16) * 2)
    step()
    groups = op_profile.by_group(op_profile.profile(
        lambda: step().numpy(), 2, self.get_temp_dir()), 2)
    self.assertGreater(groups['convolutions forward'], 0.0)
    self.assertGreater(groups['casts'], 0.0)
    self.assertGreater(groups['optimizer'], 0.0)  # The multiplication.
    self.assertEqual(groups['convolutions backward'], 0.0)


if __name__ == '__main__':
  tf.test.main()
